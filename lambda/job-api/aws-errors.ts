/** AWS errors of the job API's calls, classified by the runtime's one rule. */
import { classifyAwsError, RetryableError } from '@floodgate/runtime';

/**
 * AWS SDK errors that a retry can fix become RetryableError (the API answers 503 + Retry-After), by the
 * runtime's one rule (classifyAwsError); `what` says which call failed.
 */
export function classifyCall(err: unknown, what: string): unknown {
  const retryable = classifyAwsError(err);
  return retryable ? new RetryableError(retryable.errorClass, `${what}: ${retryable.message}`, { cause: err }) : err;
}

export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyCall(err, what);
  }
}
