/**
 * What the machine must have before anything starts: Node >= 22 (fauxqs needs 22.5) and, for the
 * embedded DynamoDB Local, Java 17 or newer. Checked in well under a second, with a message that says
 * what to install, instead of a 30 s wait for a JVM that never answers.
 */
import { spawnSync } from 'node:child_process';

export const MIN_NODE = '22.5.0';
export const MIN_JAVA = 17;

export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
  constructor(
    message: string,
    /** Which prerequisite: `node` or `java`. */
    readonly missing: 'node' | 'java',
  ) {
    super(message);
  }
}

const JAVA_INSTALL = [
  'Install Java 17 (DynamoDB Local, the local DynamoDB, runs on it):',
  '  Debian / Ubuntu:  sudo apt-get install openjdk-17-jre-headless',
  '  macOS (Homebrew): brew install openjdk@17   (then put it on PATH as brew prints)',
  '  Other systems:    any Java 17+ runtime, e.g. https://adoptium.net',
  'Or create the resources on an external AWS-compatible endpoint instead (moto, LocalStack): --endpoint URL or FLOODGATE_ENDPOINT.',
].join('\n');

function newer(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export function checkNode(version: string = process.versions.node): void {
  if (!newer(version, MIN_NODE)) {
    throw new PrerequisiteError(`@floodgate/local needs Node.js ${MIN_NODE} or newer; this is Node.js ${version}. Install Node 22 or 24 (https://nodejs.org, or \`nvm install 24\`).`, 'node');
  }
}

/** The major version from `java -version` output: `openjdk version "17.0.12"` -> 17, `"1.8.0_392"` -> 8. */
export function parseJavaMajor(output: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

/** Throws PrerequisiteError when `java` is missing or older than 17. */
export function checkJava(env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('java', ['-version'], { env, encoding: 'utf8', timeout: 15_000 });
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err?.code === 'ENOENT') throw new PrerequisiteError(`\`java\` was not found on PATH.\n${JAVA_INSTALL}`, 'java');
  if (err) throw new PrerequisiteError(`\`java -version\` failed (${err.message}).\n${JAVA_INSTALL}`, 'java');
  const major = parseJavaMajor(`${r.stderr ?? ''}${r.stdout ?? ''}`);
  if (r.status !== 0 || major === undefined) throw new PrerequisiteError(`\`java -version\` did not report a version (exit ${r.status}): ${(r.stderr ?? '').trim().slice(0, 300)}\n${JAVA_INSTALL}`, 'java');
  if (major < MIN_JAVA) throw new PrerequisiteError(`Java ${major} is on PATH; DynamoDB Local needs Java ${MIN_JAVA} or newer.\n${JAVA_INSTALL}`, 'java');
}

let checked = false;
/** Checks Node, and Java unless the emulators are not needed (an external endpoint). Once per process. */
export function checkPrerequisites(options: { java?: boolean } = {}): void {
  checkNode();
  if (options.java === false || checked) return;
  checkJava();
  checked = true;
}
