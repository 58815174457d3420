// Every entry of @floodgate/runtime from an ESM project, with import and with require(): both load the
// one build, so a class is the same object either way (no dual package hazard for instanceof).
import { createRequire } from 'node:module';
import { PermanentError, createConsumerHandler } from '@floodgate/runtime';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { LeaseLock } from '@floodgate/runtime/lock';
import { faultPoint } from '@floodgate/runtime/faults';
import { expect, test } from 'vitest';

const require = createRequire(import.meta.url);

test('import and require() of each entry give the same classes and functions', () => {
  expect(require('@floodgate/runtime').PermanentError).toBe(PermanentError);
  expect(require('@floodgate/runtime').createConsumerHandler).toBe(createConsumerHandler);
  expect(require('@floodgate/runtime/idempotency').IdempotencyStore).toBe(IdempotencyStore);
  expect(require('@floodgate/runtime/lock').LeaseLock).toBe(LeaseLock);
  expect(require('@floodgate/runtime/faults').faultPoint).toBe(faultPoint);
  const RequiredPermanentError = require('@floodgate/runtime').PermanentError as typeof PermanentError;
  expect(new RequiredPermanentError('X', 'y')).toBeInstanceOf(PermanentError);
  expect(new PermanentError('X', 'y')).toBeInstanceOf(RequiredPermanentError);
});
