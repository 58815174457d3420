import { expect } from 'vitest';
import { FloodgateValidationError } from '../src/errors';

/** `fn` throws a FloodgateValidationError whose message matches `message` (and whose code is `code`). */
export function expectInvalid(fn: () => unknown, message: RegExp, code?: string): FloodgateValidationError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a FloodgateValidationError').toBeInstanceOf(FloodgateValidationError);
  const err = caught as FloodgateValidationError;
  expect(err.message).toMatch(message);
  if (code !== undefined) expect(err.code).toBe(code);
  return err;
}
