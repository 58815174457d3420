import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKER_FONT_FILES } from '../../../lib/image-pipeline-stack';
import { useBundledFonts } from '../../../lambda/image-worker/image/fonts';

/** A folder laid out as the stack lays out the asset's fonts/ (the same source files). */
function assetFontsDir(): string {
  const asset = mkdtempSync(join(tmpdir(), 'floodgate-fonts-'));
  for (const [dest, src] of Object.entries(WORKER_FONT_FILES)) {
    mkdirSync(dirname(join(asset, dest)), { recursive: true });
    copyFileSync(src, join(asset, dest));
  }
  return join(asset, 'fonts');
}

function renderInChild(mode: 'bundled' | 'only-config', dir: string): { fontconfig?: string; narrow: string; wide: string } {
  const env = { ...process.env };
  delete env.FONTCONFIG_FILE;
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/support/render-text.ts', mode, dir], { env, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('bundled fonts for text watermarks', () => {
  it('points fontconfig at the asset fonts only when a font ships beside fonts.conf, and never overrides an operator', () => {
    const dir = assetFontsDir();
    const env: NodeJS.ProcessEnv = {};
    expect(useBundledFonts(dir, env)).toBe(join(dir, 'fonts.conf'));
    expect(env.FONTCONFIG_FILE).toBe(join(dir, 'fonts.conf'));

    const preset: NodeJS.ProcessEnv = { FONTCONFIG_FILE: '/etc/fonts/fonts.conf' };
    expect(useBundledFonts(dir, preset)).toBe('/etc/fonts/fonts.conf');

    const confOnly = mkdtempSync(join(tmpdir(), 'floodgate-nofont-'));
    writeFileSync(join(confOnly, 'fonts.conf'), '<fontconfig/>');
    const none: NodeJS.ProcessEnv = {};
    expect(useBundledFonts(confOnly, none)).toBeUndefined();
    expect(none.FONTCONFIG_FILE).toBeUndefined();
  });

  // The Lambda runtime has no fonts: with the asset's fonts.conf and nothing else, text must still render
  // real glyphs. The control (same config, no font file) shows the check can fail: every glyph is a box.
  it('renders real glyphs with nothing but the asset fonts, and boxes without them', () => {
    const dir = assetFontsDir();
    const shipped = renderInChild('bundled', dir);
    expect(shipped.fontconfig).toBe(join(dir, 'fonts.conf'));
    expect(shipped.narrow).not.toBe(shipped.wide);

    const empty = mkdtempSync(join(tmpdir(), 'floodgate-nofont-'));
    copyFileSync(join(dir, 'fonts.conf'), join(empty, 'fonts.conf'));
    const boxes = renderInChild('only-config', empty);
    expect(boxes.narrow).toBe(boxes.wide);
  });
});
