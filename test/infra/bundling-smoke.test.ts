/**
 * The one infrastructure test that bundles for real: esbuild (local, no Docker) builds the image worker
 * and `npm ci` installs sharp for the TARGET platform (linux arm64 here, not this x86_64 host).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { ARCH_CONTEXT, STACK_NAME } from '../../lambda/shared/contract';
import { ImagePipelineStack } from '../../lib/image-pipeline-stack';
import { CDK_JSON_CONTEXT } from './support';

const outdir = mkdtempSync(join(tmpdir(), 'floodgate-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('bundling smoke test', () => {
  it('bundles the worker as ESM with sharp installed for linux-arm64 only', { timeout: 180_000 }, () => {
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, [ARCH_CONTEXT]: 'arm64' } });
    const stack = new ImagePipelineStack(app, STACK_NAME);
    const template = Template.fromStack(stack);

    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    const s3Key: string = fn?.Properties.Code.S3Key;
    const asset = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
    expect(existsSync(asset), `asset folder ${asset}`).toBe(true);

    const bundle = readFileSync(join(asset, 'index.mjs'), 'utf8');
    expect(bundle).toContain('createRequire');
    // The AWS SDK is bundled at the pinned versions, not loaded from the runtime's copy.
    // (esbuild leaves an external as `from"pkg"`, `import("pkg")` or `__require("pkg")`; error texts that
    // mention `require("@aws-sdk/...")` are not imports.)
    const externalSdkImports = bundle.match(/(from\s*|import\(\s*|__require\(\s*)["']@(aws-sdk|smithy)\/[^"']+["']/g) ?? [];
    expect(externalSdkImports).toEqual([]);
    expect(bundle).toMatch(/DynamoDB|SQSClient|S3Client/);

    const img = readdirSync(join(asset, 'node_modules', '@img'));
    expect(existsSync(join(asset, 'node_modules', 'sharp', 'package.json'))).toBe(true);
    expect(img).toContain('sharp-linux-arm64');
    expect(img).toContain('sharp-libvips-linux-arm64');
    expect(img.filter((name) => name.includes('x64'))).toEqual([]);
    // The platform pin is a build-time file only.
    expect(existsSync(join(asset, '.npmrc'))).toBe(false);
    const installed = JSON.parse(readFileSync(join(asset, 'node_modules', 'sharp', 'package.json'), 'utf8'));
    const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(installed.version).toBe(root.dependencies.sharp);
    // Text watermarks need a font and the runtime has none: the asset carries one beside its fonts.conf.
    expect(readdirSync(join(asset, 'fonts')).sort()).toEqual(['DejaVuSans-Bold.ttf', 'fonts.conf']);
  });
});
