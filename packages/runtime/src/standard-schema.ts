/**
 * Message body validation with any Standard Schema v1 validator (zod >= 3.24, valibot >= 1, arktype >= 2,
 * ...: they all implement `~standard`). The interface is the spec's own (standardschema.dev), copied
 * because it is types only and meant to be copied.
 */
import { PermanentError } from './errors.js';

/** The Standard Schema v1 interface (https://standardschema.dev). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/** `items[2].name`, `order.id`, or `(body)` for the body itself. */
export function formatIssuePath(path: StandardSchemaV1.Issue['path']): string {
  if (!path || path.length === 0) return '(body)';
  let out = '';
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null && 'key' in segment ? segment.key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const name = String(typeof key === 'symbol' ? key.description : key);
      out += /^[A-Za-z_$][\w$]*$/.test(name) ? (out ? `.${name}` : name) : `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

/**
 * Parses `body` as JSON and validates it. Not JSON, or invalid: PermanentError('InvalidMessage') whose
 * reason names each failing field (`jobId: Invalid input: expected string, received undefined`).
 */
export async function validateBody<S extends StandardSchemaV1>(schema: S, body: string): Promise<StandardSchemaV1.InferOutput<S>> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new PermanentError('InvalidMessage', `message body is not JSON: ${(err as Error).message}`);
  }
  const result = await schema['~standard'].validate(json);
  if (result.issues) {
    const shown = result.issues.slice(0, 5).map((i) => `${formatIssuePath(i.path)}: ${i.message}`);
    if (result.issues.length > shown.length) shown.push(`and ${result.issues.length - shown.length} more`);
    throw new PermanentError('InvalidMessage', shown.join('; ') || 'message body is invalid');
  }
  return result.value as StandardSchemaV1.InferOutput<S>;
}
