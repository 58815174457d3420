/**
 * The SSM Parameter Store of a local endpoint: String, StringList and SecureString parameters with
 * versions, in memory. One store per endpoint, shared by every stack deployed on it (the CDK bootstrap
 * stack writes /cdk-bootstrap/<qualifier>/version, the apps' deployments read it).
 */

export type ParameterType = 'String' | 'StringList' | 'SecureString';

export interface Parameter {
  readonly name: string;
  readonly type: ParameterType;
  readonly value: string;
  readonly version: number;
  readonly lastModified: Date;
  readonly description?: string;
}

/** A Parameter Store API error, with SSM's error code. */
export class SsmApiError extends Error {
  override readonly name = 'SsmApiError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const NAME = /^\/?[a-zA-Z0-9_.\-/]{1,2048}$/;

export class ParameterStore {
  readonly #params = new Map<string, Parameter>();

  get(name: string): Parameter | undefined {
    return this.#params.get(name);
  }

  /** PutParameter: a new name, or (with `overwrite`) a new version of an existing one. */
  put(input: { name: string; value: string; type?: ParameterType; overwrite?: boolean; description?: string }): Parameter {
    if (!NAME.test(input.name)) throw new SsmApiError(400, 'ValidationException', `Parameter name "${input.name}" is invalid: letters, digits and _ . - / only`);
    if (input.value === '') throw new SsmApiError(400, 'ValidationException', 'Parameter value must not be empty');
    const current = this.#params.get(input.name);
    if (current && !input.overwrite) throw new SsmApiError(400, 'ParameterAlreadyExists', `The parameter ${input.name} already exists`);
    const p: Parameter = {
      name: input.name,
      type: input.type ?? current?.type ?? 'String',
      value: input.value,
      version: (current?.version ?? 0) + 1,
      lastModified: new Date(),
      ...(input.description !== undefined ? { description: input.description } : {}),
    };
    this.#params.set(input.name, p);
    return p;
  }

  delete(name: string): boolean {
    return this.#params.delete(name);
  }

  /** Names under `path` (GetParametersByPath), recursively or one level down. */
  byPath(path: string, recursive: boolean): Parameter[] {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    return [...this.#params.values()].filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes('/')));
  }
}
