/** The image pipeline's public surface (used by the image worker's handler and the chaos corpus). */
export { renderImage, DEFAULT_DECODE_STRATEGY, DEFAULT_INTERMEDIATE } from './render';
export type { RenderedImage, RenderRequest, RenderOptions, DecodeStrategy, IntermediateStore } from './render';
export { DEFAULT_LIMITS, resolveLimits } from './limits';
export type { ImageLimits } from './limits';
export { DEFAULT_RENDITIONS, OUTPUT_TYPES } from './renditions';
export type { RenditionSpec, OutputFormat } from './renditions';
export { detectFormat, describeFormat, isAcceptedFormat, ACCEPTED_FORMATS, FORMAT_SNIFF_BYTES } from './formats';
export type { AcceptedFormat, DetectedFormat, RejectedFormat } from './formats';
export { configureSharp, sharpThreadsPerPipeline } from './configure-sharp';
export { useBundledFonts } from './fonts';
export type { SharpSettings } from './configure-sharp';
export { checkHeader, checkSize } from './header-check';
