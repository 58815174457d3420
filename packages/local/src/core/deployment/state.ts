/**
 * What the local stack keeps of a deployment in a data directory (`--data-dir`), next to the emulators'
 * own state: the physical name it gave each resource (a resource the template does not name gets a
 * CloudFormation-style `<stack>-<logicalId>-<RANDOM>` name, and a restart must find the same queue,
 * table and bucket rather than create a second one) and the deployment's id. One JSON file per stack,
 * written after a successful deployment.
 *
 * A data directory is used by one running stack at a time: `lockDataDir` refuses a second one (two
 * processes writing one SQLite file and one DynamoDB Local database would corrupt both).
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface DeploymentState {
  readonly version: 1;
  readonly stackName: string;
  /** The deployment's id (stack ids derive from it). */
  readonly id: string;
  /** The name prefix it was deployed with ('' for none). */
  readonly prefix: string;
  /** Physical name by logical id, for every resource that was given one. */
  readonly names: Readonly<Record<string, string>>;
  /** When it was written (ISO 8601). */
  readonly savedAt: string;
}

/** A data directory another running local stack holds. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  readonly retryable = false;
}

/** The data directory is not one the local stack can use (unreadable state, or written by a newer version). */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly retryable = false;
}

const stateFile = (dataDir: string, stackName: string): string => join(dataDir, 'deployments', `${encodeURIComponent(stackName)}.json`);

/** The state of `stackName` kept in `dataDir`, or undefined on a first start. */
export function readDeploymentState(dataDir: string, stackName: string): DeploymentState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(dataDir, stackName), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let state: DeploymentState;
  try {
    state = JSON.parse(text) as DeploymentState;
  } catch {
    throw new DataDirError(`${stateFile(dataDir, stackName)} is not JSON: delete the data directory ${dataDir} to start afresh`);
  }
  if (state.version !== 1 || typeof state.names !== 'object' || state.names === null || typeof state.id !== 'string') {
    throw new DataDirError(`${stateFile(dataDir, stackName)} was not written by this version of @floodgate/local (version ${JSON.stringify(state.version)}): delete the data directory ${dataDir} to start afresh`);
  }
  return state;
}

/** Writes the state atomically (a crash leaves the previous one). */
export function writeDeploymentState(dataDir: string, state: Omit<DeploymentState, 'version' | 'savedAt'>): void {
  const file = stateFile(dataDir, state.stackName);
  mkdirSync(join(dataDir, 'deployments'), { recursive: true });
  const full: DeploymentState = { version: 1, ...state, savedAt: new Date().toISOString() };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(full, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Lock files held by this process (its own pid in a lock file is not enough to tell). */
const HELD = new Set<string>();

/** Forgets the deployment of `stackName` (its resources were destroyed). */
export function deleteDeploymentState(dataDir: string, stackName: string): void {
  rmSync(stateFile(dataDir, stackName), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dataDir` for this process (`DIR/floodgate.lock` holds its pid); returns the release function.
 * A lock left by a process that is gone is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'floodgate.lock');
  if (HELD.has(file)) throw new DataDirInUseError(`The data directory ${dataDir} is in use by another local stack of this process; stop it first, or give another data directory`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      HELD.add(file);
      return () => {
        if (released) return;
        released = true;
        HELD.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new DataDirInUseError(`The data directory ${dataDir} is in use by another local stack (pid ${holder}); stop it first, or give another --data-dir`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new DataDirInUseError(`Could not lock the data directory ${dataDir} (${file})`);
}
