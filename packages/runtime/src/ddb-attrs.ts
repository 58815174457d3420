/**
 * Tiny AttributeValue helpers for the flat records of the idempotency, lock and jobs tables. Using the
 * low-level client keeps the bundle small and lets the adapters read `Item` from a
 * ConditionalCheckFailedException (ReturnValuesOnConditionCheckFailure) without a second codec.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

export const S = (s: string): AttributeValue => ({ S: s });
export const N = (n: number): AttributeValue => ({ N: String(n) });

export function str(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && 'S' in v ? v.S : undefined;
}

export function num(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && 'N' in v && v.N !== undefined ? Number(v.N) : undefined;
}

/** The old item a ConditionalCheckFailedException carries, or undefined for any other error. */
export function conditionFailedItem(err: unknown): { failed: boolean; item: Item | undefined } {
  if (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ConditionalCheckFailedException') {
    return { failed: true, item: (err as { Item?: Item }).Item };
  }
  return { failed: false, item: undefined };
}
