/**
 * `up --watch`: the developer loop on a running local stack.
 *   - A saved edit to a source file of a bundled function (a NodejsFunction: the files its esbuild
 *     metafile lists) bundles that function again with its construct's own esbuild command line
 *     (bundles.ts) and swaps the code in its Lambda host: the next invocation runs the new code, the ones
 *     in flight finish on the old one. Nothing else is touched: queues, tables and the emulators stay.
 *   - An edit to any other app source (the synth inputs: bin/, lib/, cdk.json, ...) synthesizes the app
 *     again and hands the new assembly to the stack, which applies its template as a diff.
 * Reloads run one at a time; edits saved during one are taken together by the next.
 */
import { rmSync } from 'node:fs';
import { relative, resolve, sep, dirname, join } from 'node:path';
import { bundleOf, readBundleRecords, rebundle, type FunctionBundle } from './bundles.js';
import { directoriesUnder, watchDirectories } from './file-watch.js';

/** What the watcher needs from the running stack (given by stack.ts). */
export interface HotReloadTarget {
  /** The assembly the stack runs now. */
  assemblyDir(): string;
  /** The stack's functions and the directory of the code each runs now. */
  functions(): ReadonlyArray<{ readonly logicalId: string; readonly functionName: string; readonly assetDir: string }>;
  /** Swaps a function's code (Lambda host updateCode). */
  swapCode(logicalId: string, assetDir: string): void;
  /** Synthesizes the app again; the new assembly's directory, or undefined when its inputs did not change. */
  synthesize(): Promise<string | undefined>;
  /** Applies the template of `assemblyDir` to the running stack as a diff; one line per change. */
  applyAssembly(assemblyDir: string): Promise<readonly string[]>;
}

export interface HotReloadOptions {
  /** The project directory (cdk.json). */
  readonly projectDir: string;
  /** The app's sources, relative to projectDir (folders or files): an edit there synthesizes again. */
  readonly appInputs: readonly string[];
  /** Progress lines. */
  readonly log: (line: string) => void;
  /** How long after a change more changes are waited for, ms. @default 20 */
  readonly debounceMs?: number;
}

export type ReloadEvent =
  | {
      readonly kind: 'code';
      /** Logical ids of the functions now on new code. */
      readonly functions: readonly string[];
      readonly changed: readonly string[];
      /** esbuild's time (the slowest function's), ms. */
      readonly bundleMs: number;
      /** From the first change seen to the swap, ms. */
      readonly totalMs: number;
    }
  | { readonly kind: 'template'; readonly changed: readonly string[]; readonly changes: readonly string[]; readonly totalMs: number }
  | { readonly kind: 'error'; readonly changed: readonly string[]; readonly error: string };

export interface HotReload {
  /** Functions reloaded from their sources (bundled ones) and the files watched for each, by logical id. */
  readonly bundled: ReadonlyMap<string, readonly string[]>;
  /** Subscribes to reloads; returns the unsubscribe function. */
  onReload(listener: (e: ReloadEvent) => void): () => void;
  /** Resolves when no reload is running or queued. */
  idle(): Promise<void>;
  close(): void;
}

export function startHotReload(target: HotReloadTarget, options: HotReloadOptions): HotReload {
  const projectDir = resolve(options.projectDir);
  const { log } = options;
  const listeners = new Set<(e: ReloadEvent) => void>();
  const emit = (e: ReloadEvent): void => {
    for (const l of listeners) l(e);
  };
  const bundles = new Map<string, { bundle: FunctionBundle; assetDir: string }>();
  const bundled = new Map<string, readonly string[]>();
  let generation = 0;
  // The directories each function's reloads were bundled into, oldest first: the last few are kept (an
  // invocation still running on an older one has its code loaded already), older ones are deleted.
  const made = new Map<string, string[]>();
  const KEEP_BUNDLES = 3;

  const readBundles = (): void => {
    const recorded = readBundleRecords(target.assemblyDir());
    bundles.clear();
    bundled.clear();
    for (const fn of target.functions()) {
      const b = bundleOf(fn.assetDir, recorded);
      if (b) {
        bundles.set(fn.logicalId, { bundle: b, assetDir: fn.assetDir });
        bundled.set(fn.logicalId, b.inputs);
      }
    }
  };
  const appRoots = options.appInputs.map((p) => resolve(projectDir, p));
  const isAppInput = (path: string): boolean => appRoots.some((r) => path === r || path.startsWith(r + sep));
  const refreshWatches = (): void => {
    const dirs = new Set<string>([projectDir]);
    for (const r of appRoots) for (const d of directoriesUnder(r)) dirs.add(d);
    for (const inputs of bundled.values()) for (const f of inputs) dirs.add(dirname(f));
    fsWatch.setDirectories(dirs);
  };

  const reloadCode = async (ids: readonly string[], changed: readonly string[], since: number): Promise<void> => {
    const root = join(target.assemblyDir(), 'hot-reload');
    let bundleMs = 0;
    const done: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const cur = bundles.get(id)!;
        const toDir = join(root, `${process.pid}-${id}-${++generation}`);
        const t0 = performance.now();
        const next = await rebundle(cur.bundle, cur.assetDir, toDir);
        bundleMs = Math.max(bundleMs, performance.now() - t0);
        target.swapCode(id, toDir);
        const dirs = [...(made.get(id) ?? []), toDir];
        for (const old of dirs.splice(0, Math.max(0, dirs.length - KEEP_BUNDLES))) {
          rmSync(old, { recursive: true, force: true });
          rmSync(`${old}.meta.json`, { force: true });
        }
        made.set(id, dirs);
        // The original asset stays the base that unchanged files are linked from.
        bundles.set(id, { bundle: next, assetDir: cur.assetDir });
        bundled.set(id, next.inputs);
        done.push(id);
      }),
    );
    const totalMs = performance.now() - since;
    const names = new Map(target.functions().map((f) => [f.logicalId, f.functionName]));
    log(`watch: ${done.map((id) => names.get(id) ?? id).join(', ')} on new code (${rel(changed)} changed; esbuild ${bundleMs.toFixed(0)} ms, edit to swap ${totalMs.toFixed(0)} ms)`);
    emit({ kind: 'code', functions: done, changed, bundleMs, totalMs });
  };

  const reloadTemplate = async (changed: readonly string[], since: number): Promise<void> => {
    log(`watch: ${rel(changed)} changed: synthesizing the app again`);
    const assemblyDir = await target.synthesize();
    if (assemblyDir === undefined) return void log('watch: the app synthesizes as before: nothing to apply');
    const changes = await target.applyAssembly(assemblyDir);
    readBundles();
    const totalMs = performance.now() - since;
    for (const c of changes) log(`watch: ${c}`);
    log(`watch: template applied (${changes.length} change${changes.length === 1 ? '' : 's'}, ${(totalMs / 1000).toFixed(1)} s)`);
    emit({ kind: 'template', changed, changes, totalMs });
  };

  const rel = (paths: readonly string[]): string => paths.map((p) => relative(projectDir, p) || p).join(', ');

  // One reload at a time; changes seen meanwhile are merged into the next.
  let queued = new Set<string>();
  let firstSeen = 0;
  let running: Promise<void> = Promise.resolve();
  let scheduled = false;
  const run = async (): Promise<void> => {
    scheduled = false;
    const changed = [...queued].sort();
    const since = firstSeen;
    queued = new Set();
    const ids = [...bundles.entries()].filter(([, b]) => b.bundle.inputs.some((f) => changed.includes(f))).map(([id]) => id);
    const inputsOfCode = new Set(ids.flatMap((id) => bundles.get(id)!.bundle.inputs));
    const appChanged = changed.filter((p) => !inputsOfCode.has(p) && isAppInput(p));
    try {
      if (ids.length > 0) await reloadCode(ids, changed.filter((p) => inputsOfCode.has(p)), since);
      if (appChanged.length > 0) await reloadTemplate(appChanged, since);
    } catch (err) {
      const error = (err as Error).message;
      log(`watch: reload failed, the stack runs as before: ${error}`);
      emit({ kind: 'error', changed, error });
    }
    refreshWatches();
  };
  const fsWatch = watchDirectories((paths) => {
    if (queued.size === 0) firstSeen = performance.now();
    for (const p of paths) queued.add(p);
    if (scheduled) return;
    scheduled = true;
    running = running.then(run);
  }, options.debounceMs ?? 20);

  readBundles();
  refreshWatches();
  const plain = target.functions().filter((f) => !bundles.has(f.logicalId));
  log(`watch: ${bundles.size} bundled function(s) reload from their sources${plain.length ? `; ${plain.map((f) => f.functionName).join(', ')} (not bundled by NodejsFunction) reload when the app synthesizes again` : ''}; app sources: ${options.appInputs.join(', ')}`);

  return {
    bundled,
    onReload(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async idle() {
      for (;;) {
        const r = running;
        await r;
        if (r === running && !scheduled) return;
      }
    },
    close() {
      fsWatch.close();
    },
  };
}
