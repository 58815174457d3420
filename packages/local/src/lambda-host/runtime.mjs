// One Lambda execution environment: a child process that loads the BUNDLED handler once (init) and
// then runs invocations sent by the host over the IPC channel, one at a time, warm.
// Plain JavaScript on purpose: it runs on bare Node 24 with no TypeScript loader, like Lambda's runtime.
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire, registerHooks } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const send = (msg) => process.send?.(msg);

/**
 * Lambda's Node.js runtimes ship the AWS SDK v3: a bundle that leaves `@aws-sdk/*` external (the
 * NodejsFunction default) finds it there. Locally, those imports fall back to the project's copy.
 */
function provideAwsSdk(fromDir) {
  if (!fromDir) return;
  const projectRequire = createRequire(join(fromDir, 'noop.js'));
  const isSdk = (s) => s.startsWith('@aws-sdk/');
  registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (err) {
        if (!isSdk(specifier)) throw err;
        return next(pathToFileURL(projectRequire.resolve(specifier)).href, context);
      }
    },
  });
  const originalResolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    try {
      return originalResolve.call(this, request, parent, ...rest);
    } catch (err) {
      if (!isSdk(request)) throw err;
      return projectRequire.resolve(request);
    }
  };
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

function locate(taskRoot, handler) {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`Bad handler "${handler}": expected <file>.<export>`), { errorType: 'Runtime.MalformedHandlerName' });
  const base = join(taskRoot, handler.slice(0, dot));
  const exportPath = handler.slice(dot + 1);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    if (existsSync(base + ext)) return { file: base + ext, exportPath };
  }
  throw Object.assign(new Error(`Cannot find module ${base}(.js|.mjs|.cjs) for handler "${handler}"`), { errorType: 'Runtime.ImportModuleError' });
}

async function load(taskRoot, handler) {
  const { file, exportPath } = locate(taskRoot, handler);
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
  let fn = mod;
  for (const part of exportPath.split('.')) fn = fn?.[part];
  if (typeof fn !== 'function' && mod?.default) {
    fn = mod.default;
    for (const part of exportPath.split('.')) fn = fn?.[part];
  }
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${file} does not export a function "${exportPath}"`), { errorType: 'Runtime.HandlerNotFound' });
  }
  return fn;
}

function toError(err) {
  if (err instanceof Error) {
    return { errorType: err.errorType ?? err.name ?? 'Error', errorMessage: err.message, stack: err.stack?.split('\n') };
  }
  return { errorType: 'Error', errorMessage: typeof err === 'string' ? err : JSON.stringify(err) };
}

let handlerFn;

function invoke(msg) {
  const { id, event, context: ctx } = msg;
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
  };
  try {
    const out = handlerFn(event, context, (err, value) => finish(err, value));
    if (out && typeof out.then === 'function') out.then((v) => finish(undefined, v), (e) => finish(e ?? new Error('rejected')));
    else if (handlerFn.length < 3) finish(undefined, out);
  } catch (err) {
    finish(err);
  }
}

process.on('message', async (msg) => {
  if (msg.type === 'init') {
    const t0 = performance.now();
    try {
      provideAwsSdk(msg.sdkFromDir);
      handlerFn = await load(msg.taskRoot, msg.handler);
      send({ type: 'ready', initDurationMs: performance.now() - t0 });
    } catch (err) {
      send({ type: 'initError', error: toError(err), initDurationMs: performance.now() - t0 });
    }
  } else if (msg.type === 'invoke') {
    invoke(msg);
  }
});
// An unhandled rejection or exception kills the environment, as Lambda's runtime does.
process.on('unhandledRejection', (err) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'Unhandled Promise Rejection', error: toError(err) }));
  process.exit(128);
});
process.on('disconnect', () => process.exit(0));
send({ type: 'spawned' });
