import type { RenditionName } from '../../shared/job-message';

export type OutputFormat = 'jpeg' | 'webp';

/** What one rendition is: a bounding box on the longest edge, an output format and whether it gets the watermark. */
export interface RenditionSpec {
  readonly name: RenditionName;
  /** Longest edge in pixels; smaller inputs are never upscaled. */
  readonly maxEdge: number;
  readonly format: OutputFormat;
  readonly quality: number;
  /** Watermarks go on renditions big enough to be worth lifting, not on thumbnails. */
  readonly watermark: boolean;
}

export const DEFAULT_RENDITIONS: Readonly<Record<RenditionName, RenditionSpec>> = Object.freeze({
  thumb: { name: 'thumb', maxEdge: 320, format: 'jpeg', quality: 80, watermark: false },
  medium: { name: 'medium', maxEdge: 1024, format: 'webp', quality: 80, watermark: true },
  large: { name: 'large', maxEdge: 2048, format: 'jpeg', quality: 85, watermark: true },
});

export const OUTPUT_TYPES: Readonly<Record<OutputFormat, { ext: string; contentType: string }>> = Object.freeze({
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
  webp: { ext: 'webp', contentType: 'image/webp' },
});

/** The requested specs, largest first (the order the decode-once strategy derives them in). */
export function resolveRenditions(names: readonly RenditionName[]): RenditionSpec[] {
  if (names.length === 0) throw new TypeError('renderImage needs at least one rendition');
  const unique = [...new Set(names)];
  return unique.map((n) => DEFAULT_RENDITIONS[n]).sort((a, b) => b.maxEdge - a.maxEdge);
}

/** Output size of fitting width x height inside maxEdge x maxEdge without enlarging (same rounding as sharp's fit inside). */
export function fitInside(width: number, height: number, maxEdge: number): { width: number; height: number } {
  if (width <= maxEdge && height <= maxEdge) return { width, height };
  const scale = maxEdge / Math.max(width, height);
  return width >= height
    ? { width: maxEdge, height: Math.max(1, Math.round(height * scale)) }
    : { width: Math.max(1, Math.round(width * scale)), height: maxEdge };
}
