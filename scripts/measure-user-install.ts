// Measures what a user gets from the packed tarballs of a checkout (this one, or an older one for a
// before/after comparison), offline from the npm cache, with the new-user test's own helpers:
//   1. `npm i -D @floodgate/local` in an empty project: the bytes it adds (du of node_modules), the
//      number of packages, and any GPL/AGPL package among them;
//   2. the `cdk init app` project of the new-user test (examples/orders-app): the size of its bundled
//      handler and how many DynamoDBClient classes it holds.
// Usage (the packages built in <checkout>; tarballs are packed into a temporary folder):
//   npx tsx scripts/measure-user-install.ts [<checkout>] [--user-sdk VERSION]   (default: this repository)
//   --user-sdk 3.1178.0   the app then installs that @aws-sdk/client-dynamodb from the registry (ONLINE), as
//                         a user whose app is newer than the SDK we test with: two copies show up here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const sdkAt = args.indexOf('--user-sdk');
const userSdk = sdkAt >= 0 ? args.splice(sdkAt, 2)[1] : undefined;
const root = resolve(args[0] ?? join(import.meta.dirname, '..'));
const support = (await import(join(root, 'test', 'new-user', 'support', 'project.ts'))) as typeof import('../test/new-user/support/project.js');
const { writeOfflineLockfile } = (await import(join(root, 'test', 'new-user', 'support', 'offline-lockfile.ts'))) as typeof import('../test/new-user/support/offline-lockfile.js');

const sandbox = support.makeSandbox('floodgate-measure-');
try {
  // Packed here, not into <checkout>/dist/packages (a new-user test may be reading that).
  const packDir = join(sandbox.dir, 'tarballs');
  mkdirSync(packDir);
  const packages: { name: string; path: string; version: string; files: string[] }[] = [];
  for (const ws of (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces) {
    if ((JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8')) as { private?: boolean }).private === true) continue;
    const { stdout } = await support.run('npm', ['pack', '--json', '--pack-destination', packDir, '--workspace', ws], { cwd: root, env: sandbox.env });
    for (const e of JSON.parse(stdout) as { name: string; version: string; filename: string }[]) packages.push({ name: e.name, version: e.version, path: join(packDir, e.filename), files: [] });
  }

  // 1. npm i -D @floodgate/local (and the Floodgate packages it depends on, from their tarballs).
  const scratch = join(sandbox.dir, 'scratch');
  mkdirSync(join(scratch, 'vendor'), { recursive: true });
  const localManifest = JSON.parse(execFileSync('tar', ['-xOzf', packages.find((p) => p.name === '@floodgate/local')!.path, 'package/package.json'], { encoding: 'utf8' })) as {
    dependencies?: Record<string, string>;
  };
  const wanted = packages.filter((p) => p.name === '@floodgate/local' || Object.keys(localManifest.dependencies ?? {}).includes(p.name));
  const devDependencies: Record<string, string> = {};
  for (const p of wanted) {
    execFileSync('cp', [p.path, join(scratch, 'vendor')]);
    devDependencies[p.name] = `file:vendor/${basename(p.path)}`;
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', devDependencies }, null, 2));
  writeOfflineLockfile(scratch, root, wanted.map((p) => ({ file: join(scratch, 'vendor', basename(p.path)) })));
  await support.run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: scratch, env: sandbox.env });
  const bytes = Number(execFileSync('du', ['-sb', join(scratch, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
  const lock = JSON.parse(readFileSync(join(scratch, 'package-lock.json'), 'utf8')) as { packages: Record<string, { license?: string }> };
  const installed = Object.entries(lock.packages).filter(([k]) => k.startsWith('node_modules/'));
  const copyleft = installed.filter(([, v]) => /(^|[^L])GPL/.test(v.license ?? '') && !/ OR /.test(v.license ?? '')).map(([k, v]) => `${k.replace(/.*node_modules\//, '')} ${v.license}`);
  console.log(`npm i -D @floodgate/local (+ ${wanted.length - 1} Floodgate dependencies): ${(bytes / 1e6).toFixed(1)} MB in node_modules, ${installed.length} packages`);
  console.log(`  GPL/AGPL: ${copyleft.length === 0 ? 'none' : copyleft.join(', ')}`);

  // 2. The cdk init app's bundled handler.
  const project = join(sandbox.dir, 'orders-app');
  mkdirSync(project);
  await support.run(join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'), ['init', 'app', '--language', 'typescript', '--generate-only'], { cwd: project, env: sandbox.env });
  support.copyTree(join(root, 'examples', 'orders-app'), project);
  await support.installIntoProject(project, sandbox.env, packages.filter((p) => p.name !== '@floodgate/postgres') as never, {
    dependencies: ['@aws-sdk/client-dynamodb'],
    devDependencies: ['esbuild'],
  });
  if (userSdk !== undefined) await support.run('npm', ['install', '--no-audit', '--no-fund', `@aws-sdk/client-dynamodb@${userSdk}`], { cwd: project, env: sandbox.env, timeoutMs: 900_000 });
  const tree = await support.run('npm', ['ls', '--all', '--parseable', '@aws-sdk/client-dynamodb'], { cwd: project, env: sandbox.env }).catch((e: Error) => ({ stdout: e.message }));
  const copies = tree.stdout.split('\n').filter((l) => l.endsWith('/@aws-sdk/client-dynamodb')).map((l) => l.slice(project.length + 1));
  console.log(`app's @aws-sdk/client-dynamodb: ${userSdk ?? 'the locked version'}; installed copies: ${copies.length} (${copies.join(', ')})`);
  await support.run('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices'], { cwd: project, env: sandbox.env });
  const template = JSON.parse(readFileSync(join(project, 'cdk.out', 'OrdersAppStack.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
  const assetDir = join(project, 'cdk.out', `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
  const bundle = readdirSync(assetDir).find((f) => /^index\.m?js$/.test(f))!;
  const code = readFileSync(join(assetDir, bundle), 'utf8');
  const classes = code.match(/\bclass DynamoDBClient\d*\b|\bDynamoDBClient\d* = class\b|\(this, ?"DynamoDBClient"\)/g) ?? [];
  console.log(`cdk init app bundle: ${bundle} ${statSync(join(assetDir, bundle)).size} bytes, DynamoDBClient classes: ${classes.length} (${classes.join(', ')})`);
} finally {
  if (process.env.FLOODGATE_KEEP_MEASURE === undefined) rmSync(sandbox.dir, { recursive: true, force: true });
}
