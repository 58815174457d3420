import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { escapeXml, textWatermarkSvg } from '../../../lambda/image-worker/image/watermark';

describe('text watermark SVG', () => {
  it('escapes markup so user text cannot add elements or attributes', () => {
    const hostile = '</text><image href="file:///etc/passwd"/><text x=\'0\'>&amp;\u0001';
    expect(escapeXml(hostile)).toBe('&lt;/text&gt;&lt;image href=&quot;file:///etc/passwd&quot;/&gt;&lt;text x=&apos;0&apos;&gt;&amp;amp;');
    const svg = textWatermarkSvg(hostile, 400, 300, 0.5, 'southeast');
    expect(svg.match(/<[a-z]/g)).toEqual(['<s', '<t']); // only <svg> and <text> elements
    expect(svg).not.toContain('<image');
  });

  it('renders as a valid SVG of exactly the rendition size, whatever the text', async () => {
    for (const text of ['plain', '<b>bold?</b>', 'a & b "c" \'d\'', '日本語 ✓', ']]><!--']) {
      const meta = await sharp(Buffer.from(textWatermarkSvg(text, 321, 123, 1, 'centre'))).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['svg', 321, 123]);
    }
  });

  it('places the text by gravity', () => {
    expect(textWatermarkSvg('x', 1000, 500, 0.5, 'northwest')).toMatch(/x="24" y="54" text-anchor="start"/);
    expect(textWatermarkSvg('x', 1000, 500, 0.5, 'southeast')).toMatch(/x="976" y="476" text-anchor="end"/);
    expect(textWatermarkSvg('x', 1000, 500, 0.5, 'centre')).toMatch(/x="500" y="260" text-anchor="middle"/);
  });
});
