import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local bound to one address. Its command line has no host option: DynamoDBProxyServer builds
 * Jetty's Server(port), whose connector listens on every interface. This launcher builds the server
 * with DynamoDB Local's own command-line parser, sets the host and port of each connector before start
 * (port 0: the kernel picks a free one, so there is no window between choosing a port and binding it;
 * DynamoDB Local's parser refuses 0, so it is given a placeholder), starts it, checks where it listens,
 * and prints one line "floodgate-dynamodb-local listening HOST:PORT" on stdout: the caller's readiness
 * signal. Telemetry is never configured, so none is sent (ServerRunner.main is the only caller of
 * Telemetry.configureTelemetry).
 *
 * The first request a fresh DynamoDB Local serves takes seconds (its request path is loaded and
 * compiled then; later ones take milliseconds), so one ListTables is sent to it from a background
 * thread as soon as it listens: that cost then overlaps the caller's own start-up (gateway, deployment
 * of the other resources) instead of delaying the deployment's first CreateTable.
 *
 * Usage: java -cp DynamoDBLocal.jar:DIR FloodgateDynamoDbLocal HOST PORT [DynamoDB Local options, no -port]
 */
public final class FloodgateDynamoDbLocal {
  private FloodgateDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: FloodgateDynamoDbLocal HOST PORT [DynamoDB Local options, no -port]");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String[] options = Arrays.copyOf(Arrays.copyOfRange(args, 2, args.length), args.length);
    options[args.length - 2] = "-port";
    options[args.length - 1] = String.valueOf(port == 0 ? 8000 : port);
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(options);
    Server jetty = jettyOf(proxy);
    Connector[] connectors = jetty.getConnectors();
    if (connectors.length == 0) fail("DynamoDB Local's Jetty server has no connector");
    for (Connector c : connectors) {
      if (!(c instanceof ServerConnector)) fail("unexpected Jetty connector " + c.getClass().getName());
      ((ServerConnector) c).setHost(host);
      ((ServerConnector) c).setPort(port);
    }
    proxy.start();
    for (Connector c : connectors) {
      ServerConnector sc = (ServerConnector) c;
      if (!host.equals(sc.getHost()) || sc.getLocalPort() <= 0) fail("DynamoDB Local is not listening on " + host + " (host " + sc.getHost() + ", port " + sc.getLocalPort() + ")");
      System.out.println("floodgate-dynamodb-local listening " + sc.getHost() + ":" + sc.getLocalPort());
    }
    System.out.flush();
    ServerConnector first = (ServerConnector) connectors[0];
    Thread warm = new Thread(() -> warmUp(host, first.getLocalPort()), "floodgate-warm-up");
    warm.setDaemon(true);
    warm.start();
    proxy.join();
  }

  /** One ListTables, answered or not (a failure here changes nothing: it is only a warm-up). */
  private static void warmUp(String host, int port) {
    try {
      HttpURLConnection c = (HttpURLConnection) new URL("http://" + host + ":" + port + "/").openConnection();
      c.setRequestMethod("POST");
      c.setDoOutput(true);
      c.setRequestProperty("Content-Type", "application/x-amz-json-1.0");
      c.setRequestProperty("X-Amz-Target", "DynamoDB_20120810.ListTables");
      c.setRequestProperty("Authorization", "AWS4-HMAC-SHA256 Credential=floodgate/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0");
      try (OutputStream o = c.getOutputStream()) {
        o.write("{}".getBytes(StandardCharsets.UTF_8));
      }
      c.getResponseCode();
      c.getInputStream().readAllBytes();
      c.disconnect();
    } catch (Exception e) {
      // only a warm-up
    }
  }

  /** DynamoDBProxyServer keeps its Jetty server in a private field and offers no accessor. */
  private static Server jettyOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
    Field f = DynamoDBProxyServer.class.getDeclaredField("server");
    f.setAccessible(true);
    return (Server) f.get(proxy);
  }

  private static void fail(String message) {
    System.err.println("floodgate-dynamodb-local: " + message);
    System.exit(1);
  }
}
