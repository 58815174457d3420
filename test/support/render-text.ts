// Child process for test/lambda/image/fonts.test.ts: fontconfig reads its configuration once per process,
// so each font setup needs its own process. Prints the md5 of two text watermarks that differ only in
// their glyphs: with a real font the images differ; with no font every glyph is the same box.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { useBundledFonts } from '../../lambda/image-worker/image/fonts';
import { textWatermarkSvg } from '../../lambda/image-worker/image/watermark';

const [mode, dir] = process.argv.slice(2);
if (mode === 'bundled') useBundledFonts(dir!);
else process.env.FONTCONFIG_FILE = `${dir}/fonts.conf`;

async function render(text: string): Promise<string> {
  const svg = textWatermarkSvg(text, 400, 200, 1, 'centre');
  const raw = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#808080' } })
    .composite([{ input: Buffer.from(svg) }])
    .raw()
    .toBuffer();
  return createHash('md5').update(raw).digest('hex');
}
console.log(JSON.stringify({ fontconfig: process.env.FONTCONFIG_FILE, narrow: await render('iiii'), wide: await render('WWWW') }));
