/**
 * Which target the tests run against: the embedded emulators (default) or an external endpoint
 * (FLOODGATE_ENDPOINT, e.g. moto_server in .ci/run). What a target cannot do is a NAMED skip: use
 * `it.skipIf(unsupported('reason'))`, which prints the reason, so nothing is skipped silently.
 */
export const EXTERNAL_ENDPOINT = process.env.FLOODGATE_ENDPOINT || undefined;

/** True when running against an external endpoint; logs the named reason once per test file. */
export function onExternalEndpoint(reason: string): boolean {
  if (!EXTERNAL_ENDPOINT) return false;
  console.warn(`[skip on ${EXTERNAL_ENDPOINT}] ${reason}`);
  return true;
}
