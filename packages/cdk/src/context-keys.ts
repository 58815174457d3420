/**
 * Context key: Lambda architecture, `arm64` or `x86_64`. `floodgate-local` sets it to the host's architecture
 * so that native modules in a bundle load on the machine that runs it.
 */
export const ARCH_CONTEXT = 'floodgate:architecture';
