/**
 * Local emulators (fauxqs, LocalStack) serve S3 on one host, path-style; AWS uses virtual-hosted style.
 * Every handler's S3 client asks this one rule.
 */
export function needsPathStyle(env: Record<string, string | undefined>): boolean {
  return Boolean(env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL']);
}
