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
  // A 100 MP JPEG takes ~3-4 s on one vCPU here; 30 s leaves room for slow AVIF without letting one image
  // eat a whole invocation.
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
