/**
 * How each NodejsFunction of an assembly was bundled, and bundling it again the same way.
 *
 * A NodejsFunction's asset in cdk.out is already bundled, and neither the template nor the asset
 * metadata names its entry or its esbuild options. So the synth records them (bundle-recorder.ts,
 * preloaded into the CDK app): the esbuild command line the construct ran, its cwd and environment, the
 * bundle's sha256 and a metafile listing the source files it read. A function is matched to its record
 * by the sha256 of its asset's bundle file. Re-bundling runs that command line again with only the output
 * paths changed, so the options are the construct's own (target, format, externals, define, banner, ...).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { BUNDLE_LOG, BUNDLE_LOG_DIR } from '../synth.js';

/** One esbuild run of the synth, as bundle-recorder.ts writes it. */
export interface BundleRecord {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Environment variables the construct set for the run (`bundling.environment`), beyond the app's. */
  readonly env: Readonly<Record<string, string>>;
  readonly outfile: string;
  readonly sha256: string;
  /** The metafile: in the log directory (added by the recorder) or in the asset (the construct's own `metafile: true`). */
  readonly metafile: { readonly inLog: string } | { readonly inAsset: string };
}

/** A function's bundle: the command that makes it, and the source files it was made from. */
export interface FunctionBundle {
  readonly record: BundleRecord;
  /** The bundle's file name in the asset (`index.js`, `index.mjs`). */
  readonly outName: string;
  /** Absolute paths of the source files esbuild read (node_modules left out: dependencies are not watched). */
  readonly inputs: readonly string[];
}

/** A bundle that failed (a syntax error, a missing import): the old code stays. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export function readBundleRecords(assemblyDir: string): { readonly logDir: string; readonly records: readonly BundleRecord[] } {
  const logDir = join(assemblyDir, BUNDLE_LOG_DIR);
  const file = join(logDir, BUNDLE_LOG);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return { logDir, records: text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as BundleRecord) };
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The source files of a metafile (its keys are relative to esbuild's working directory), node_modules left out. */
export function metafileInputs(metafile: string, cwd: string): string[] {
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as { inputs?: Record<string, unknown> };
  return Object.keys(meta.inputs ?? {})
    .filter((p) => !/(^|[\\/])node_modules[\\/]/.test(p) && !p.includes(':'))
    .map((p) => (isAbsolute(p) ? p : resolve(cwd, p)));
}

/** The record that produced the bundle in `assetDir`, if the function is a bundled (NodejsFunction) one. */
export function bundleOf(assetDir: string, log: { readonly logDir: string; readonly records: readonly BundleRecord[] }): FunctionBundle | undefined {
  for (const record of log.records) {
    const outName = basename(record.outfile);
    const file = join(assetDir, outName);
    if (!existsSync(file) || sha256(file) !== record.sha256) continue;
    const meta = 'inLog' in record.metafile ? join(log.logDir, record.metafile.inLog) : join(assetDir, record.metafile.inAsset);
    return { record, outName, inputs: existsSync(meta) ? metafileInputs(meta, record.cwd) : [] };
  }
  return undefined;
}

/** esbuild's own binary for a command run through a package manager (`npx --no-install esbuild`): no npx start-up. */
function directCommand(record: BundleRecord): { command: string; args: string[] } {
  const at = record.args.indexOf('--bundle');
  if (/(^|[\\/])esbuild(\.exe|\.cmd)?$/.test(record.command)) return { command: record.command, args: [...record.args] };
  for (let dir = record.cwd; ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', process.platform === 'win32' ? 'esbuild.cmd' : 'esbuild');
    if (existsSync(bin)) return { command: bin, args: record.args.slice(at) };
    if (dirname(dir) === dir) return { command: record.command, args: [...record.args] };
  }
}

/**
 * Bundles the function again into `toDir`: the recorded command line with `--outfile` (and the
 * metafile) pointed there. Everything else of the old asset (node_modules installed by `nodeModules`,
 * files copied by command hooks) is linked into `toDir` unchanged. Returns the new bundle.
 */
export async function rebundle(bundle: FunctionBundle, fromAssetDir: string, toDir: string): Promise<FunctionBundle> {
  const { record, outName } = bundle;
  rmSync(toDir, { recursive: true, force: true });
  mkdirSync(toDir, { recursive: true });
  const ownMeta = 'inAsset' in record.metafile ? record.metafile.inAsset : undefined;
  const made = new Set([outName, `${outName}.map`, ...(ownMeta ? [ownMeta] : [])]);
  for (const entry of readdirSync(fromAssetDir)) if (!made.has(entry)) symlinkSync(join(fromAssetDir, entry), join(toDir, entry));
  const metafile = ownMeta ? join(toDir, ownMeta) : `${toDir}.meta.json`;
  const { command, args } = directCommand(record);
  const argv = args.filter((a) => !a.startsWith('--outfile=') && !a.startsWith('--metafile=')).concat(`--outfile=${join(toDir, outName)}`, `--metafile=${metafile}`);
  await new Promise<void>((res, rej) => {
    execFile(command, argv, { cwd: record.cwd, env: { ...process.env, ...record.env }, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) rej(new BundleError(`esbuild failed for ${record.args[record.args.indexOf('--bundle') + 1] ?? outName}:\n${String(stderr || err.message).trim().slice(-4000)}`));
      else res();
    });
  });
  return { record, outName, inputs: metafileInputs(metafile, record.cwd) };
}
