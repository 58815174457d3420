/**
 * A CommonJS entry for jest: starts `floodgate-local up --keep --json` as a child process.
 * @module @floodgate/local/testing
 */
export * from '../../packages/local/src/testing/index.js';
