// One Lambda execution environment: a child process that loads the BUNDLED handler once (init) and
// then runs invocations sent by the host over the IPC channel, one at a time, warm.
// Plain JavaScript on purpose: it runs on bare Node 24 with no TypeScript loader, like Lambda's runtime.
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire, registerHooks } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';

const send = (msg) => process.send?.(msg);
/** This file, named in a Require stack as Lambda names /var/runtime/index.mjs. */
const RUNTIME_FILE = fileURLToPath(import.meta.url);
/** Marks the end of an invocation's output on stdout (read and dropped by the host). */
const END_MARK = '\u0000floodgate-end ';

/**
 * Lambda's Node.js runtimes ship the AWS SDK v3 (/var/runtime/node_modules): a function finds
 * `@aws-sdk/*` (and `@smithy/*`, `@aws-crypto/*`) without listing them. Locally an import is first
 * resolved as Node does from the function's own directory, so its bundled or vendored copy wins; only
 * when that fails, and only for those scopes, it is resolved again from `fromDir` (@floodgate/local's
 * directory: what it installs). If that fails too, the function's own error is thrown, as Lambda's.
 */
function provideAwsSdk(fromDir, scopes) {
  if (!fromDir) return;
  const parentURL = pathToFileURL(join(fromDir, 'noop.mjs')).href;
  const ourRequire = createRequire(join(fromDir, 'noop.js'));
  const provided = (s) => typeof s === 'string' && scopes.some((p) => s.startsWith(p));
  // Module.registerHooks (Node >= 22.15) runs for require() and import alike. The fallback's own
  // resolution passes through this hook again: it must not fall back a second time.
  let fallingBack = false;
  registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (err) {
        if (fallingBack || !provided(specifier)) throw err;
        fallingBack = true;
        try {
          // The same resolution from our package's directory (require: its node_modules paths; import:
          // parentURL), with the request's own conditions.
          if (context.conditions?.includes('require')) return { url: pathToFileURL(ourRequire.resolve(specifier)).href, shortCircuit: true };
          return next(specifier, { ...context, parentURL });
        } catch {
          noteMissing(specifier);
          throw err;
        } finally {
          fallingBack = false;
        }
      }
    },
  });
}

/** Runtime-provided packages the local stack could not provide either: named in the init error's log line. */
const missingProvided = new Set();
function noteMissing(specifier) {
  const m = /^(@[^/]+\/[^/]+)/.exec(specifier);
  missingProvided.add(m ? m[1] : specifier);
}

/** Lambda's rule: `.js` is CommonJS unless a package.json inside the task root says "type": "module". */
function isEsm(file, taskRoot) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  let dir = dirname(file);
  const root = resolve(taskRoot);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (resolve(dir) === root || dirname(dir) === dir) return false;
    dir = dirname(dir);
  }
}

/**
 * Lambda's runtime errors (aws-lambda-nodejs-runtime-interface-client, src/Errors.js): classes whose
 * name is `Runtime.<Class>`, wrapping the cause as their message (`new ImportModuleError(e)` makes the
 * message "Error: Cannot find module 'x'\nRequire stack:\n- ...").
 */
const runtimeErrorClasses = new Map();
function runtimeError(kind, messageOrCause) {
  let C = runtimeErrorClasses.get(kind);
  if (!C) {
    C = class extends Error {};
    C.prototype.name = `Runtime.${kind}`;
    runtimeErrorClasses.set(kind, C);
  }
  return new C(messageOrCause);
}

function locate(taskRoot, handler) {
  if (handler.includes('..')) throw runtimeError('MalformedHandlerName', `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  const match = /^([^.]*)\.(.*)$/.exec(handler.slice(handler.lastIndexOf('/') + 1));
  if (!match) throw runtimeError('MalformedHandlerName', 'Bad handler');
  const base = join(taskRoot, handler.slice(0, handler.lastIndexOf('/') + 1), match[1]);
  const exportPath = match[2];
  for (const ext of ['.js', '.mjs', '.cjs']) {
    if (existsSync(base + ext)) return { file: base + ext, exportPath };
  }
  // Lambda falls back to require.resolve(module), which fails with MODULE_NOT_FOUND.
  const notFound = Object.assign(new Error(`Cannot find module '${match[1]}'\nRequire stack:\n- ${RUNTIME_FILE}`), { code: 'MODULE_NOT_FOUND' });
  throw runtimeError('ImportModuleError', notFound);
}

async function load(taskRoot, handler) {
  const { file, exportPath } = locate(taskRoot, handler);
  let mod;
  try {
    mod = await loadModule(file, taskRoot);
  } catch (e) {
    // As Lambda's _loadUserApp: a syntax error and a CommonJS "module not found" are wrapped; anything
    // else (an ES module's ERR_MODULE_NOT_FOUND included) is reported as thrown.
    if (e instanceof SyntaxError) throw runtimeError('UserCodeSyntaxError', e);
    if (e?.code === 'MODULE_NOT_FOUND') throw runtimeError('ImportModuleError', e);
    throw e;
  }
  let fn = mod;
  for (const part of exportPath.split('.')) fn = fn?.[part];
  if (typeof fn !== 'function' && mod?.default) {
    fn = mod.default;
    for (const part of exportPath.split('.')) fn = fn?.[part];
  }
  if (!fn) throw runtimeError('HandlerNotFound', `${handler} is undefined or not exported`);
  if (typeof fn !== 'function') throw runtimeError('HandlerNotFound', `${handler} is not a function`);
  return fn;
}

async function loadModule(file, taskRoot) {
  let mod;
  if (isEsm(file, taskRoot)) {
    mod = await import(pathToFileURL(file).href);
  } else {
    // Compile as CommonJS whatever package.json scope surrounds the assembly (the repo is "type": "module").
    const m = new Module(file);
    m.filename = file;
    m.paths = Module._nodeModulePaths(dirname(file));
    m._compile(readFileSync(file, 'utf8'), file);
    mod = m.exports;
  }
  return mod;
}

/** The error document Lambda returns for an error (Errors.toRapidResponse): errorType, errorMessage, trace. */
function toError(err) {
  if (err instanceof Error || (err && typeof err.name === 'string' && typeof err.message === 'string' && typeof err.stack === 'string')) {
    return { errorType: err.errorType ?? err.name, errorMessage: err.message, trace: typeof err.stack === 'string' ? err.stack.split('\n') : [] };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

/**
 * The line Lambda's runtime logs for an error that ends init (LogPatch's text format, console.error
 * patched): `<ISO time>\tundefined\tERROR\tUncaught Exception \t{"errorType":...,"errorMessage":...,"stack":[...]}`,
 * newlines inside written as \r. Own enumerable properties (code, ...) are kept, as Errors.toFormatted does.
 */
function logUncaught(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const doc = Object.assign({ errorType: e.name, errorMessage: e.message, code: e.code }, e);
  if (typeof e.stack === 'string') doc.stack = e.stack.split('\n');
  let json;
  try {
    json = JSON.stringify(doc);
  } catch {
    json = JSON.stringify(toError(e));
  }
  process.stdout.write(`${new Date().toISOString()}\tundefined\tERROR\tUncaught Exception \t${json}`.replace(/\n/g, '\r') + '\n');
  if (missingProvided.size > 0) {
    process.stdout.write(
      `floodgate-local: ${[...missingProvided].join(', ')} would come with Lambda's Node.js runtime, but neither the function nor @floodgate/local can resolve it here: add it to the project's devDependencies\n`,
    );
  }
}

let handlerFn;

/**
 * console as Lambda's runtime patches it (LogPatch.js): every console.log/info/warn/error/debug/trace
 * call is one line on stdout, `<ISO time>\t<request id>\t<LEVEL>\t<message>` (newlines inside written as
 * \r, so a multi-line message stays one log event), or with AWS_LAMBDA_LOG_FORMAT=JSON (LoggingConfig
 * LogFormat JSON) one JSON object {timestamp, level, requestId, message}. The request id is the current
 * (or last) invocation's; `undefined` during init, as on Lambda.
 */
let currentRequestId;
function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT ?? '').toUpperCase() === 'JSON';
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [method, level] of Object.entries(levels)) {
    if (method === 'fatal') continue;
    console[method] = (message, ...params) => {
      const timestamp = new Date().toISOString();
      let line;
      if (json) {
        const doc = { timestamp, level, requestId: currentRequestId };
        if (params.length === 0) doc.message = message instanceof Error ? { errorType: message.name, errorMessage: message.message, stackTrace: message.stack?.split('\n') } : message;
        else doc.message = format(message, ...params);
        try {
          line = JSON.stringify(doc);
        } catch {
          line = JSON.stringify({ ...doc, message: format(message, ...params) });
        }
      } else line = `${timestamp}\t${currentRequestId}\t${level}\t${format(message, ...params)}`;
      process.stdout.write(`${line.replace(/\n/g, '\r')}\n`);
    };
  }
}
patchConsole();

function invoke(msg) {
  const { id, event, context: ctx } = msg;
  currentRequestId = id;
  const context = {
    ...ctx,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, ctx.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let settled = false;
  const finish = (err, value) => {
    if (settled) return;
    settled = true;
    if (err !== undefined && err !== null) send({ type: 'result', id, ok: false, error: toError(err) });
    else send({ type: 'result', id, ok: true, value: value === undefined ? null : value, undefinedValue: value === undefined });
    // After everything the invocation wrote to stdout (a pipe: written synchronously on Linux): the
    // host writes END and REPORT when it reads this line, so they follow the invocation's own lines.
    process.stdout.write(`${END_MARK}${id}\n`);
  };
  try {
    const out = handlerFn(event, context, (err, value) => finish(err, value));
    if (out && typeof out.then === 'function') out.then((v) => finish(undefined, v), (e) => finish(e ?? new Error('rejected')));
    else if (handlerFn.length < 3) finish(undefined, out);
  } catch (err) {
    finish(err);
  }
}

let initStarted = 0;
let initialized = false;
function initFailed(err) {
  logUncaught(err);
  send({ type: 'initError', error: toError(err), initDurationMs: performance.now() - initStarted });
}

process.on('message', async (msg) => {
  if (msg.type === 'init') {
    initStarted = performance.now();
    try {
      // A standby environment (started before a hot reload) learns its task root only now.
      if (process.env.LAMBDA_TASK_ROOT !== msg.taskRoot) {
        process.chdir(msg.taskRoot);
        process.env.LAMBDA_TASK_ROOT = msg.taskRoot;
      }
      provideAwsSdk(msg.sdkFromDir, msg.sdkScopes ?? ['@aws-sdk/']);
      handlerFn = await load(msg.taskRoot, msg.handler);
      initialized = true;
      send({ type: 'ready', initDurationMs: performance.now() - initStarted });
    } catch (err) {
      initFailed(err);
    }
  } else if (msg.type === 'invoke') {
    invoke(msg);
  }
});
// An unhandled rejection or exception kills the environment, as Lambda's runtime does; during init it
// is the init error (Runtime.UnhandledPromiseRejection, or the thrown error's own type).
process.on('unhandledRejection', (reason) => {
  const err = runtimeError('UnhandledPromiseRejection', reason);
  if (!initialized) initFailed(err);
  else console.error(JSON.stringify({ level: 'ERROR', message: 'Unhandled Promise Rejection', error: toError(err) }));
  setImmediate(() => process.exit(128));
});
process.on('uncaughtException', (err) => {
  if (!initialized) initFailed(err);
  else console.error(JSON.stringify({ level: 'ERROR', message: 'Uncaught Exception', error: toError(err) }));
  setImmediate(() => process.exit(129));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'spawned' });
