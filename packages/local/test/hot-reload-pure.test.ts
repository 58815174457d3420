/** The pure parts of hot reload: the template diff, the names a watcher passes over, a bundle record's inputs. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleOf, metafileInputs, type BundleRecord } from '../src/watch/bundles';
import { ignoredName } from '../src/watch/file-watch';
import { templateChanges } from '../src/watch/template-diff';

describe('templateChanges', () => {
  it('lists added, modified and removed resources by logical id; Metadata alone is no change', () => {
    const before = { Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } }, Gone: { Type: 'AWS::SQS::Queue' }, Same: { Type: 'AWS::SQS::Queue', Metadata: { a: 1 } } } };
    const after = { Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 45 } }, New: { Type: 'AWS::DynamoDB::Table' }, Same: { Type: 'AWS::SQS::Queue', Metadata: { a: 2 } } } };
    expect(templateChanges(before, after).map((c) => `${c.action} ${c.logicalId}`)).toEqual(['Modify Q', 'Add New', 'Remove Gone']);
    expect(templateChanges(after, after)).toEqual([]);
  });
});

describe('the watcher', () => {
  it('passes over editor swap, backup and hidden files', () => {
    for (const n of ['.handler.ts.swp', 'handler.ts~', '4913', '.#handler.ts', 'x.tmp']) expect(ignoredName(n), n).toBe(true);
    for (const n of ['handler.ts', 'version.ts', 'app.ts', 'cdk.json']) expect(ignoredName(n), n).toBe(false);
  });
});

describe('bundle records', () => {
  it('match a function by its bundle`s sha256 and list its inputs from the metafile, node_modules left out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-bundles-'));
    const asset = join(dir, 'asset.1');
    const logDir = join(dir, 'log');
    for (const d of [asset, logDir]) mkdirSync(d, { recursive: true });
    writeFileSync(join(asset, 'index.js'), 'exports.handler = 1;');
    writeFileSync(join(logDir, 'meta-1.json'), JSON.stringify({ inputs: { 'lambda/h.ts': {}, 'node_modules/x/index.js': {}, '/abs/lib.ts': {} } }));
    const sha256 = 'ed9a3ff1f4dbb7bbd1e9b1da8bb9dd8d3e5a2b8d0c71f7f0b2e43a9f2c6dc4c6';
    const real = createHash('sha256').update('exports.handler = 1;').digest('hex') as string;
    const record = (sha: string): BundleRecord => ({ command: 'npx', args: ['--no-install', 'esbuild', '--bundle', '/p/lambda/h.ts', '--outfile=/tmp/x/index.js'], cwd: '/p', env: {}, outfile: '/tmp/x/index.js', sha256: sha, metafile: { inLog: 'meta-1.json' } });
    expect(bundleOf(asset, { logDir, records: [record(sha256)] })).toBeUndefined();
    const b = bundleOf(asset, { logDir, records: [record(sha256), record(real)] });
    expect(b?.outName).toBe('index.js');
    expect(b?.inputs).toEqual(['/p/lambda/h.ts', '/abs/lib.ts']);
    expect(metafileInputs(join(logDir, 'meta-1.json'), '/q')).toEqual(['/q/lambda/h.ts', '/abs/lib.ts']);
  });
});
