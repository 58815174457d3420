/** Limits every input image is checked against before (and while) its pixels are decoded. */
export interface ImageLimits {
  /** Largest accepted input file, in bytes. */
  readonly maxBytes: number;
  /** Largest accepted width x height (of one frame), checked from the header before decoding. */
  readonly maxPixels: number;
  /** Most bands (e.g. 3 RGB, 4 RGBA or CMYK, 5 CMYK + alpha). */
  readonly maxChannels: number;
  /** Most frames/pages (animated GIF/WebP, multi-page TIFF); only the first is rendered. */
  readonly maxFrames: number;
  /** Budget for one image, all renditions included. */
  readonly timeoutMs: number;
}

export const DEFAULT_LIMITS: ImageLimits = Object.freeze({
  maxBytes: 50 * 1024 * 1024,
  maxPixels: 100_000_000,
  // CMYK + alpha is the widest photo we accept; more bands are scientific TIFFs, not photos.
  maxChannels: 5,
  // A 10 s GIF at 50 fps; a file with more frames is a bomb or a video in disguise.
  maxFrames: 500,
  // Measured here (1 libvips thread, decode-once): a 100 MP, 35 MB JPEG -> thumb+medium+large in ~0.8 s,
  // helped by JPEG shrink-on-load (PNG, TIFF, AVIF have none, so they cost more per pixel). 30 s is
  // far above any sane input and still stops one image from eating a whole invocation.
  timeoutMs: 30_000,
});

/** Merges partial limits over the defaults and rejects values that would disable a fence. */
export function resolveLimits(partial: Partial<ImageLimits> = {}): ImageLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`image limit ${key} must be a positive finite number, got ${String(value)}`);
    }
  }
  return limits;
}
