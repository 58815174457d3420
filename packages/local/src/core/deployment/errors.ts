/** A template resource the local deployer cannot deploy (unknown type, or an unsupported shape). */
export class UnsupportedResourceError extends Error {
  override readonly name = 'UnsupportedResourceError';
}
