/** Command-line parsing for `floodgate-local` (pure, unit-tested). */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: floodgate-local up [--app CMD | --assembly DIR | --no-deploy] [--stack NAME] [--outputs-file FILE] [--keep] [--watch] [--json] [--data-dir DIR | --endpoint URL [--name-prefix P]] [--allow-unsupported] [--async-retry-delays MS,MS]
       floodgate-local fire NAME [--endpoint URL]
       floodgate-local reset [--endpoint URL]
       floodgate-local check
       floodgate-local --help | --version

up                   synthesize (or read) the CDK app, start the emulators, deploy the stack, run its
                     functions and their SQS event source mappings, print endpoint=URL
  --app CMD          the CDK app command, as \`cdk --app\` takes it (synthesized for this machine's
                     architecture into .floodgate/cdk.out); default: the app of ./cdk.json
  --assembly DIR     a synthesized cloud assembly instead (e.g. cdk.out)
  --no-deploy        deploy nothing: serve the endpoint for the stock CDK CLI, which bootstraps,
                     deploys, updates (--hotswap, watch) and destroys stacks on it through the
                     CloudFormation API: AWS_ENDPOINT_URL=<endpoint> npx cdk bootstrap / deploy
  --stack NAME       the stack to deploy (name or artifact id); default: the only stack
  --outputs-file F   write the stack outputs to F in the \`cdk deploy --outputs-file\` format
  --keep             serve until SIGINT/SIGTERM (then stop everything); without it, up is a check:
                     it deploys, runs the pollers until the mapped queues are empty, stops and exits 0
  --watch            serve (as --keep) and hot-reload: an edit to a bundled function's sources
                     (NodejsFunction) bundles it again with its construct's esbuild options and swaps
                     the code (the next invocation runs it; those in flight finish on the old code);
                     an edit to the app's other sources (bin/ lib/ cdk.json ...) synthesizes it again
                     and applies the template as a diff. Queues, tables and buckets keep their data.
                     Needs the app (cdk.json or --app), not --assembly
  --json             print one JSON object line on stdout (endpoint, region, credentials, stack,
                     outputs, functions, mappings); progress goes to stderr
  --endpoint URL     create the resources on this AWS-compatible endpoint (moto, LocalStack) instead
                     of the embedded emulators; functions still run here (default: $FLOODGATE_ENDPOINT)
  --name-prefix P    put P- in front of every physical name, for an endpoint other deployments share
                     (default: names as the template writes them; unnamed resources get
                     CloudFormation-style names <stack>-<logicalId>-<RANDOM>)
  --allow-unsupported
                     deploy even if the template has resources the local stack cannot emulate
                     (topics, rules, custom resources, ...): each is named in a warning saying what
                     will not happen; without it they are refused before anything is created
  --port N           port of the endpoint (default: a free port); --port 4566 is LocalStack's, where its
                     tools look (GET /_localstack/health answers in LocalStack's format)
  --data-dir DIR     keep the state in DIR across a stop and a start: queues with their messages
                     (in flight and delayed too), buckets with their objects, tables with their items,
                     and the names the deployment gave; \`up\` again with the same assembly and DIR finds
                     them (not with --endpoint; one running stack per DIR; logs are not kept)
  --async-retry-delays MS[,MS]
                     waits before the first and second retry of a failed asynchronous invocation
                     (Invoke Event, SNS, S3, EventBridge), in milliseconds; default 60000,120000 (AWS's
                     one and two minutes): shorter ones let a test see retries and OnFailure at once
  --no-iam           do not evaluate IAM for the functions' calls (SigV4 authentication still holds);
                     by default every call a function makes is checked against its role's policies
                     (when the optional @cloud-copilot/iam-simulate is installed)
  --stop-on-stdin-close
                     also stop when stdin closes (for a parent process: @floodgate/local/testing)
fire NAME            run a scheduled rule or an EventBridge Scheduler schedule of a running stack now
                     (by rule or schedule name, or logical id) and print its delivery outcome as JSON;
                     --endpoint is the stack's endpoint (default: $AWS_ENDPOINT_URL), signed with
                     $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY (default: the local admin, test/test)
reset                empty a running stack and keep it: every queue (DLQs, in-flight messages), table
                     and bucket of the stack, and its functions' pending asynchronous events; the
                     resources and the event source mappings stay (POST /_floodgate/reset); prints what
                     it did as JSON; --endpoint is the stack's endpoint (default: $AWS_ENDPOINT_URL)
check                check the prerequisites (Node >= 22.5, Java 17 for DynamoDB Local) and exit; also says
                     whether the optional @cloud-copilot/iam-simulate (IAM enforcement) is installed`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface UpArgs {
  readonly command: 'up';
  readonly app?: string;
  readonly assembly?: string;
  readonly stack?: string;
  readonly outputsFile?: string;
  readonly keep: boolean;
  /** --watch: serve and hot-reload (implies keep). */
  readonly watch?: boolean;
  readonly json: boolean;
  readonly endpoint?: string;
  readonly port?: number;
  /** --allow-unsupported: warn about what cannot be emulated instead of refusing the template. */
  readonly allowUnsupported?: boolean;
  /** --name-prefix: a prefix for every physical name. */
  readonly namePrefix?: string;
  readonly stopOnStdinClose?: boolean;
  /** --no-iam: IAM enforcement off. */
  readonly noIam?: boolean;
  /** --no-deploy: the endpoint alone, for the CDK CLI to deploy into. */
  readonly noDeploy?: boolean;
  /** --async-retry-delays: waits before the retries of a failed asynchronous invocation, ms. */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** --data-dir: keep the state in this directory. */
  readonly dataDir?: string;
}

export interface ResetArgs {
  readonly command: 'reset';
  readonly endpoint: string;
}

export interface FireArgs {
  readonly command: 'fire';
  readonly name: string;
  readonly endpoint: string;
}

export type CliArgs = UpArgs | FireArgs | ResetArgs | { readonly command: 'check' } | { readonly command: 'help' } | { readonly command: 'version' };

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      app: { type: 'string' },
      assembly: { type: 'string' },
      stack: { type: 'string' },
      'outputs-file': { type: 'string' },
      keep: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      port: { type: 'string' },
      'name-prefix': { type: 'string' },
      'allow-unsupported': { type: 'boolean', default: false },
      'stop-on-stdin-close': { type: 'boolean', default: false },
      'no-iam': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'async-retry-delays': { type: 'string' },
      'no-deploy': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  const [command, ...rest] = positionals;
  if (command === 'fire') {
    if (rest.length !== 1) throw new UsageError('fire takes one schedule name: floodgate-local fire NAME');
    const endpoint = values.endpoint ?? (env.AWS_ENDPOINT_URL || undefined);
    if (endpoint === undefined || !/^https?:\/\/[^/]+/.test(endpoint)) throw new UsageError(`fire needs the running stack's endpoint: --endpoint URL or $AWS_ENDPOINT_URL (got ${JSON.stringify(endpoint ?? '')})`);
    return { command: 'fire', name: rest[0]!, endpoint };
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (command === 'reset') {
    const endpoint = values.endpoint ?? (env.AWS_ENDPOINT_URL || undefined);
    if (endpoint === undefined || !/^https?:\/\/[^/]+/.test(endpoint)) throw new UsageError(`reset needs the running stack's endpoint: --endpoint URL or $AWS_ENDPOINT_URL (got ${JSON.stringify(endpoint ?? '')})`);
    return { command: 'reset', endpoint };
  }
  if (command === 'check') return { command: 'check' };
  if (command !== 'up') throw new UsageError(command === undefined ? 'missing command (up, fire, reset or check)' : `unknown command "${command}" (expected up, fire, reset or check)`);
  if (values.app !== undefined && values.assembly !== undefined) throw new UsageError('--app and --assembly are exclusive: give one');
  if (values.watch && values.assembly !== undefined) throw new UsageError('--watch synthesizes the app again on a change: give the app (cdk.json or --app), not --assembly');
  if (values['no-deploy'] && (values.app !== undefined || values.assembly !== undefined || values.stack !== undefined)) throw new UsageError('--no-deploy deploys no app: it takes no --app, --assembly or --stack');
  const endpoint = values.endpoint ?? (env.FLOODGATE_ENDPOINT || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL (got "${endpoint}")`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535 (got "${values.port}")`);
  }
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && dataDir.trim() === '') throw new UsageError('--data-dir needs a directory');
  if (dataDir !== undefined && endpoint !== undefined) throw new UsageError(`--data-dir keeps the embedded emulators' state; the endpoint ${endpoint} (--endpoint or $FLOODGATE_ENDPOINT) keeps its own: give one or the other`);
  const namePrefix = values['name-prefix'];
  if (namePrefix !== undefined && !/^[a-z0-9][a-z0-9-]{0,23}$/.test(namePrefix)) throw new UsageError(`--name-prefix must be 1-24 characters of a-z 0-9 -, starting with a letter or digit (got "${namePrefix}")`);
  let asyncRetryDelaysMs: number[] | undefined;
  if (values['async-retry-delays'] !== undefined) {
    if (!/^\d+(,\d+)?$/.test(values['async-retry-delays'])) {
      throw new UsageError(`--async-retry-delays takes one or two whole numbers of milliseconds, comma-separated, e.g. 200,400 (got "${values['async-retry-delays']}")`);
    }
    asyncRetryDelaysMs = values['async-retry-delays'].split(',').map(Number);
  }
  return {
    command: 'up',
    keep: values.keep || values.watch,
    json: values.json,
    ...(values.watch ? { watch: true } : {}),
    ...(values.app !== undefined ? { app: values.app } : {}),
    ...(values.assembly !== undefined ? { assembly: values.assembly } : {}),
    ...(values.stack !== undefined ? { stack: values.stack } : {}),
    ...(values['outputs-file'] !== undefined ? { outputsFile: values['outputs-file'] } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(namePrefix !== undefined ? { namePrefix } : {}),
    ...(values['allow-unsupported'] ? { allowUnsupported: true } : {}),
    ...(values['stop-on-stdin-close'] ? { stopOnStdinClose: true } : {}),
    ...(values['no-iam'] ? { noIam: true } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(asyncRetryDelaysMs !== undefined ? { asyncRetryDelaysMs } : {}),
    ...(values['no-deploy'] ? { noDeploy: true } : {}),
  };
}
