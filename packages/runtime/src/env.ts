/**
 * The environment contract between @floodgate/cdk (which sets it on every consumer function) and this
 * runtime (which reads it), defined once in @floodgate/contract.
 */
export { CONSUMER_ENV } from '@floodgate/contract';
