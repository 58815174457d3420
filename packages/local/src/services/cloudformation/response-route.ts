/**
 * Preloaded (`node --import`) into the local Lambda environments: custom resource handlers answer
 * CloudFormation with `https.request({ hostname, path, method: 'PUT' })` on the ResponseURL (CDK's
 * provider framework, its bundled handlers, the cfn-response module), which on AWS is an HTTPS S3 URL.
 * Locally the ResponseURL is the plain-HTTP endpoint (AWS_ENDPOINT_URL): an HTTPS request to the
 * endpoint's host on the default port is sent to the endpoint over HTTP instead. Nothing else is touched.
 * Plain JavaScript syntax only: Node runs this file from src with type stripping.
 */
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';

const raw = process.env.AWS_ENDPOINT_URL;
const endpoint = raw ? new URL(raw) : undefined;

if (endpoint && endpoint.protocol === 'http:') {
  const port = endpoint.port || '80';
  const matches = (host: unknown, p: unknown): boolean =>
    typeof host === 'string' && host.split(':')[0] === endpoint.hostname && (p === undefined || p === null || p === '' || String(p) === '443' || String(p) === port);
  const originalRequest = https.request;
  const originalGet = https.get;
  const reroute = (original: typeof https.request, plain: typeof http.request) =>
    (...args: unknown[]): http.ClientRequest => {
      const [first] = args;
      if (typeof first === 'string' || first instanceof URL) {
        const u = new URL(String(first));
        if (u.protocol === 'https:' && matches(u.hostname, u.port)) {
          u.protocol = 'http:';
          u.port = port;
          return (plain as (...a: unknown[]) => http.ClientRequest)(u, ...args.slice(1));
        }
      } else if (first && typeof first === 'object') {
        const o = first as http.RequestOptions;
        const host = o.hostname ?? o.host;
        if (matches(host, o.port ?? (typeof host === 'string' ? host.split(':')[1] : undefined))) {
          const { agent: _agent, ...rest } = o;
          return (plain as (...a: unknown[]) => http.ClientRequest)({ ...rest, protocol: 'http:', hostname: endpoint.hostname, host: undefined, port }, ...args.slice(1));
        }
      }
      return (original as (...a: unknown[]) => http.ClientRequest).apply(https, args);
    };
  https.request = reroute(originalRequest, http.request) as typeof https.request;
  https.get = reroute(originalGet, http.get) as typeof https.get;
  syncBuiltinESMExports();
}
