/**
 * Synthesizes the real CDK app with the CDK CLI (same code path as `cdk synth`, real esbuild bundling,
 * sharp installed into the asset by npm) into a private assembly directory, so a user's cdk.out is left
 * alone. Function assets are built for the HOST architecture (the ARCH_CONTEXT flag) so native modules
 * load here. The inputs are hashed: with nothing changed under bin/ lib/ lambda/, synth is skipped.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

/** Context key @floodgate/cdk reads for the Lambda architecture; set here to the host's. Defined in @floodgate/contract. */
import { ARCH_CONTEXT } from '@floodgate/contract';
export { ARCH_CONTEXT };

const run = promisify(execFile);

/** Where the synth records how each NodejsFunction was bundled (watch/bundle-recorder.ts), inside the assembly. */
export const BUNDLE_LOG_DIR = 'floodgate-bundles';
export const BUNDLE_LOG = 'bundles.jsonl';
/** The compiled recorder; run from src (this repository's tests, Node 24 strips the types), its source. */
const RECORDER = [new URL('./watch/bundle-recorder.js', import.meta.url), new URL('./watch/bundle-recorder.ts', import.meta.url)].find((u) => existsSync(fileURLToPath(u)))!;

export const DEFAULT_ASSEMBLY_DIR = '.floodgate/cdk.out';
/** The app's sources by default (relative to the project): a change to any of them synthesizes again. */
export const DEFAULT_SYNTH_INPUTS: readonly string[] = ['bin', 'lib', 'lambda', 'src', 'packages', 'cdk.json', 'package.json', 'package-lock.json'];
const HASH_FILE = '.floodgate-input-hash';

export interface SynthOptions {
  /** Project root (where cdk.json is). @default process.cwd() */
  readonly projectDir?: string;
  /** Output assembly directory, relative to projectDir. @default '.floodgate/cdk.out' */
  readonly outDir?: string;
  /** The app command, as `cdk synth --app` takes it. @default the `app` of cdk.json */
  readonly app?: string;
  /** Extra `-c key=value` context. ARCH_CONTEXT defaults to the host architecture. */
  readonly context?: Record<string, string>;
  /** Folders and files whose content decides whether to synthesize again. */
  readonly inputs?: readonly string[];
  /** Synthesize even when the inputs did not change. @default false */
  readonly force?: boolean;
  /** Synthesize again when the cached assembly has no record of its bundles (`up --watch` needs one). @default false */
  readonly needsBundleRecord?: boolean;
  /** Progress lines. @default no output */
  readonly log?: (line: string) => void;
}

export interface SynthResult {
  readonly assemblyDir: string;
  /** false when the cached assembly was reused. */
  readonly synthesized: boolean;
  readonly durationMs: number;
}

/** Lambda's name for the host's instruction set. */
export function hostArchitecture(): 'x86_64' | 'arm64' {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

function listFiles(root: string, dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  const st = statSync(dir);
  if (st.isFile()) {
    out.push(relative(root, dir));
    return;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'cdk.out') continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(root, full, out);
    else if (entry.isFile()) out.push(relative(root, full));
  }
}

/** sha256 over the content of every input file and the synth context. */
export function inputHash(projectDir: string, inputs: readonly string[], context: Record<string, string>): string {
  const files: string[] = [];
  for (const i of inputs) listFiles(projectDir, join(projectDir, i), files);
  const h = createHash('sha256');
  h.update(JSON.stringify(context));
  for (const f of files.sort()) {
    h.update(f);
    h.update('\0');
    h.update(readFileSync(join(projectDir, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/**
 * The assembly for given inputs lives in `<outDir>/<input hash>`: content-addressed, written to a temp
 * directory and renamed into place, so concurrent runs (several test runs, `npm start`) never see a
 * half-written assembly or have one replaced under them. The newest few are kept.
 */
export async function synthesize(options: SynthOptions = {}): Promise<SynthResult> {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const root = resolve(projectDir, options.outDir ?? DEFAULT_ASSEMBLY_DIR);
  const context = { [ARCH_CONTEXT]: hostArchitecture(), ...options.context };
  const inputs = options.inputs ?? DEFAULT_SYNTH_INPUTS;
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const hash = inputHash(projectDir, inputs, options.app ? { ...context, '--app': options.app } : context);
  const assemblyDir = join(root, hash.slice(0, 16));
  // An assembly from before the bundle recorder has no record: synthesized again when one is needed.
  const recorded = !options.needsBundleRecord || existsSync(join(assemblyDir, BUNDLE_LOG_DIR));
  if (!options.force && recorded && existsSync(join(assemblyDir, 'manifest.json')) && existsSync(join(assemblyDir, HASH_FILE))) {
    log(`synth: inputs unchanged, reusing ${relative(projectDir, assemblyDir)}`);
    return { assemblyDir, synthesized: false, durationMs: performance.now() - started };
  }
  log(`synth: cdk synth (${ARCH_CONTEXT}=${context[ARCH_CONTEXT]}) -> ${relative(projectDir, assemblyDir)}`);
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(join(root, `.tmp-${hash.slice(0, 8)}-`));
  // --no-install: the app's own aws-cdk CLI, never one fetched from the registry.
  // The recorder (preloaded into the app) notes each NodejsFunction's esbuild command line for `up --watch`.
  mkdirSync(join(tmp, BUNDLE_LOG_DIR));
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import ${JSON.stringify(RECORDER.href)}`.trim();
  const args = ['--no-install', 'cdk', 'synth', '-q', '-o', tmp, ...(options.app ? ['--app', options.app] : []), ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  try {
    await run('npx', args, { cwd: projectDir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true', NODE_OPTIONS: nodeOptions, FLOODGATE_BUNDLE_LOG: join(tmp, BUNDLE_LOG_DIR, BUNDLE_LOG) } });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`cdk synth failed:\n${(e.stderr || e.stdout || e.message).trim().slice(-4000)}`, { cause: err });
  }
  // Bundles are CommonJS unless they say otherwise (as under /var/task): shield them from the
  // repository's "type": "module" package scope.
  writeFileSync(join(tmp, 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(tmp, HASH_FILE), hash);
  // A cached assembly without the bundle record (made before the recorder) is replaced; otherwise a
  // concurrent run's identical one is kept (below).
  if (options.force || (existsSync(assemblyDir) && !existsSync(join(assemblyDir, BUNDLE_LOG_DIR)))) rmSync(assemblyDir, { recursive: true, force: true });
  try {
    renameSync(tmp, assemblyDir);
  } catch {
    // Another run produced the same assembly first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(root, assemblyDir);
  return { assemblyDir, synthesized: true, durationMs: performance.now() - started };
}

/** Keeps the newest KEEP assemblies (and leftovers of crashed runs younger than an hour). */
const KEEP = 3;
function prune(root: string, current: string): void {
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ path: join(root, d.name), tmp: d.name.startsWith('.tmp-'), mtime: statSync(join(root, d.name)).mtimeMs }));
  const done = dirs.filter((d) => !d.tmp && d.path !== current).sort((a, b) => b.mtime - a.mtime);
  for (const d of done.slice(KEEP - 1)) rmSync(d.path, { recursive: true, force: true });
  for (const d of dirs.filter((x) => x.tmp && Date.now() - x.mtime > 3_600_000)) rmSync(d.path, { recursive: true, force: true });
}
