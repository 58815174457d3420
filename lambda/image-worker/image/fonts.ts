/**
 * Fonts for text watermarks. librsvg renders SVG text through fontconfig, and the Lambda Node.js runtime
 * ships no fonts: without one every glyph is a box. The stack copies DejaVu Sans and a fonts.conf into the
 * asset's `fonts/` folder; this points fontconfig at them before the first text is rendered (fontconfig
 * reads FONTCONFIG_FILE when it first initialises, so setting it at cold start is enough).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Uses `<dir>/fonts.conf` when it exists beside at least one font file and FONTCONFIG_FILE is not already
 * set (an operator's choice wins). Returns the config in effect, or undefined for the system default.
 */
export function useBundledFonts(dir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FONTCONFIG_FILE) return env.FONTCONFIG_FILE;
  const conf = join(dir, 'fonts.conf');
  if (!existsSync(conf)) return undefined;
  if (!readdirSync(dir).some((f) => /\.(ttf|otf)$/i.test(f))) return undefined;
  env.FONTCONFIG_FILE = conf;
  return conf;
}
