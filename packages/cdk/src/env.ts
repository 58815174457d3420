/**
 * The environment contract between this library (which sets it on every consumer function) and
 * @floodgate/runtime (which reads it), defined once in @floodgate/contract.
 */
export { CONSUMER_ENV } from '@floodgate/contract';
