/**
 * A Docker-free local AWS stack for any CDK app: `startLocalStack` for tests, and the `floodgate-local`
 * command.
 * @module @floodgate/local
 */
export * from '../../packages/local/src/index.js';
