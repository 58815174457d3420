/**
 * CloudFormation stacks deployed through the API (CreateChangeSet / ExecuteChangeSet / DeleteStack), as
 * the stock CDK CLI drives them: a stack's life (REVIEW_IN_PROGRESS, CREATE_*, UPDATE_*, ROLLBACK_*,
 * DELETE_*), its change sets, its events and its template. Deploying is not done here: the composition
 * root (stack.ts) gives `deploy`, which runs a template through the one deployment model (the same
 * provisioners as `floodgate-local up`) and starts its functions and pollers; an update passes the
 * running stack as `previous`, so the deployer keeps what did not change (queues keep their messages).
 */
import { randomUUID } from 'node:crypto';
import type { CfnTemplate } from '../../core/deployment/assembly.js';
import type { LocalDeployment } from '../../core/deployment/deploy.js';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';

/** A deployed stack's running part (its deployment, functions and pollers), as the composition root made it. */
export interface StackRuntime {
  readonly deployment: LocalDeployment;
  readonly outputs: Readonly<Record<string, string>>;
  /** The stack's own gateway URL (its functions' endpoint; Lambda calls for its functions are forwarded there). */
  readonly endpoint: string;
  /** Stops the functions and pollers; `destroy` also deletes the stack's resources. */
  stop(options?: { destroy?: boolean; handBack?: boolean }): Promise<void>;
}

export interface DeployRequest {
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly parameters: Readonly<Record<string, string>>;
  /** The deployment to update (absent on a create). */
  readonly previous?: LocalDeployment;
}

/** Runs a template (the composition root's startLocalStack for one stack). */
export type StackDeployer = (request: DeployRequest) => Promise<StackRuntime>;

/** A CloudFormation API error (rendered as the query protocol's ErrorResponse). */
export class CloudFormationApiError extends Error {
  override readonly name = 'CloudFormationApiError';
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

export interface StackEvent {
  readonly eventId: string;
  readonly stackId: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly physicalId: string;
  readonly resourceType: string;
  readonly timestamp: Date;
  readonly status: string;
  readonly reason?: string;
}

export interface Change {
  readonly action: 'Add' | 'Modify' | 'Remove';
  readonly logicalId: string;
  readonly type: string;
  /** Modify: 'True' | 'False' | 'Conditional' (the local deployer decides at execution). */
  readonly replacement?: string;
  /** Modify: the top-level properties that differ, each with whether changing it recreates the resource. */
  readonly properties?: ReadonlyArray<{ readonly name: string; readonly requiresRecreation: 'Always' | 'Never' }>;
}

export interface ChangeSet {
  readonly id: string;
  readonly name: string;
  readonly stackId: string;
  readonly stackName: string;
  readonly type: 'CREATE' | 'UPDATE';
  readonly template: CfnTemplate;
  readonly templateBody: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly changes: readonly Change[];
  readonly createdAt: Date;
  readonly description?: string;
  status: 'CREATE_COMPLETE' | 'FAILED' | 'DELETE_COMPLETE';
  executionStatus: 'AVAILABLE' | 'UNAVAILABLE' | 'EXECUTE_IN_PROGRESS' | 'EXECUTE_COMPLETE' | 'EXECUTE_FAILED' | 'OBSOLETE';
  statusReason?: string;
}

export interface CfnStack {
  readonly name: string;
  readonly id: string;
  readonly createdAt: Date;
  status: string;
  statusReason?: string;
  updatedAt?: Date;
  deletedAt?: Date;
  template?: CfnTemplate;
  templateBody?: string;
  parameters: Readonly<Record<string, string>>;
  runtime?: StackRuntime;
  readonly events: StackEvent[];
  readonly changeSets: Map<string, ChangeSet>;
  /** The operation in progress (ExecuteChangeSet, DeleteStack, a code update), awaited by tests and stop(). */
  busy?: Promise<void>;
  /** Template `Description`, when written. */
  description?: string;
}

const IN_PROGRESS = /_IN_PROGRESS$/;

/**
 * What a change set would do: Add/Modify/Remove by logical id, from the templates as written.
 * `replaces(type)`: whether the local deployer replaces a changed resource of that type (it creates
 * something in the target that it cannot update in place) or updates it in place.
 */
export function templateChanges(before: CfnTemplate | undefined, after: CfnTemplate, replaces: (type: string) => boolean = () => false): Change[] {
  const out: Change[] = [];
  const old = before?.Resources ?? {};
  for (const [id, r] of Object.entries(after.Resources ?? {})) {
    const o = old[id];
    if (!o) out.push({ action: 'Add', logicalId: id, type: r.Type });
    else if (o.Type !== r.Type) out.push({ action: 'Modify', logicalId: id, type: r.Type, replacement: 'True' });
    else if (JSON.stringify(o.Properties ?? {}) !== JSON.stringify(r.Properties ?? {}) || JSON.stringify(o.DependsOn ?? []) !== JSON.stringify(r.DependsOn ?? []) || o.Condition !== r.Condition) {
      const a = o.Properties ?? {};
      const b = r.Properties ?? {};
      const requiresRecreation = replaces(r.Type) ? ('Always' as const) : ('Never' as const);
      const properties = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((name) => ({ name, requiresRecreation }));
      // Only properties that resolve to something else at deploy time may change without a textual change.
      out.push({ action: 'Modify', logicalId: id, type: r.Type, replacement: properties.length === 0 ? 'False' : replaces(r.Type) ? 'True' : 'False', properties });
    }
  }
  for (const [id, o] of Object.entries(old)) if (!(after.Resources ?? {})[id]) out.push({ action: 'Remove', logicalId: id, type: o.Type });
  return out;
}

export interface CloudFormationStacksOptions {
  readonly region: string;
  readonly deploy: StackDeployer;
  /** Whether the deployer replaces a changed resource of this type (for DescribeChangeSet). @default never */
  readonly replaces?: (type: string) => boolean;
  readonly log?: (line: string) => void;
  /** The clock (tests). @default () => new Date() */
  readonly now?: () => Date;
}

export class CloudFormationStacks {
  readonly #byName = new Map<string, CfnStack>();
  readonly #all: CfnStack[] = [];
  readonly #opts: CloudFormationStacksOptions;
  readonly #now: () => Date;

  constructor(options: CloudFormationStacksOptions) {
    this.#opts = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** A live stack by name or id; a deleted one only by id (as CloudFormation answers). */
  find(ref: string): CfnStack | undefined {
    return this.#byName.get(ref) ?? this.#all.find((s) => s.id === ref);
  }

  get(ref: string): CfnStack {
    const s = this.find(ref);
    if (!s) throw new CloudFormationApiError('ValidationError', `Stack with id ${ref} does not exist`);
    return s;
  }

  /** Live stacks (DescribeStacks without a name); ListStacks also lists deleted ones. */
  live(): CfnStack[] {
    return [...this.#byName.values()];
  }

  all(): readonly CfnStack[] {
    return this.#all;
  }

  /** The stack whose deployment has function `name` (by name or ARN). */
  stackOfFunction(ref: string): { stack: CfnStack; logicalId: string } | undefined {
    const name = ref.startsWith('arn:') ? (ref.split(':')[6] ?? '') : ref;
    for (const stack of this.#byName.values()) {
      const fn = stack.runtime?.deployment.functions.find((f) => f.functionName === name);
      if (fn) return { stack, logicalId: fn.logicalId };
    }
    return undefined;
  }

  #event(stack: CfnStack, logicalId: string, type: string, physicalId: string, status: string, reason?: string): void {
    // Newest first, each a millisecond after the one before (the CLI orders them by time).
    const last = stack.events[0]?.timestamp.getTime() ?? 0;
    const timestamp = new Date(Math.max(this.#now().getTime(), last + 1));
    stack.events.unshift({ eventId: randomUUID(), stackId: stack.id, stackName: stack.name, logicalId, physicalId, resourceType: type, timestamp, status, ...(reason ? { reason } : {}) });
  }

  #stackStatus(stack: CfnStack, status: string, reason?: string): void {
    stack.status = status;
    if (reason === undefined) delete stack.statusReason;
    else stack.statusReason = reason;
    this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.id, status, reason);
  }

  createChangeSet(input: { stackName: string; changeSetName: string; type: 'CREATE' | 'UPDATE'; template: CfnTemplate; templateBody: string; parameters: ReadonlyArray<{ key: string; value?: string; usePrevious?: boolean }>; description?: string }): ChangeSet {
    if (!/^[a-zA-Z][-a-zA-Z0-9]{0,127}$/.test(input.stackName)) throw new CloudFormationApiError('ValidationError', `1 validation error detected: Value '${input.stackName}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`);
    let stack = this.#byName.get(input.stackName);
    if (input.type === 'CREATE') {
      if (stack && stack.status !== 'REVIEW_IN_PROGRESS') throw new CloudFormationApiError('AlreadyExistsException', `Stack [${input.stackName}] already exists`);
      if (!stack) {
        stack = { name: input.stackName, id: `arn:aws:cloudformation:${this.#opts.region}:${LOCAL_ACCOUNT_ID}:stack/${input.stackName}/${randomUUID()}`, createdAt: this.#now(), status: 'REVIEW_IN_PROGRESS', parameters: {}, events: [], changeSets: new Map() };
        this.#byName.set(stack.name, stack);
        this.#all.push(stack);
        this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.id, 'REVIEW_IN_PROGRESS', 'User Initiated');
      }
    } else {
      if (!stack) throw new CloudFormationApiError('ValidationError', `Stack [${input.stackName}] does not exist`);
      if (IN_PROGRESS.test(stack.status)) throw new CloudFormationApiError('ValidationError', `Stack:${stack.id} is in ${stack.status} state and can not be updated.`);
      if (stack.status === 'ROLLBACK_COMPLETE' || stack.status === 'REVIEW_IN_PROGRESS') throw new CloudFormationApiError('ValidationError', `Stack:${stack.id} is in ${stack.status} state and can not be updated.`);
    }
    if (stack.changeSets.has(input.changeSetName)) throw new CloudFormationApiError('AlreadyExistsException', `ChangeSet ${input.changeSetName} already exists`);
    const declared = input.template.Parameters ?? {};
    const parameters: Record<string, string> = {};
    for (const p of input.parameters) {
      if (!(p.key in declared)) throw new CloudFormationApiError('ValidationError', `Parameters: [${p.key}] do not exist in the template`);
      if (p.usePrevious) {
        // The value the stack used: given, or the template's Default.
        const prev = this.#usedParameter(stack, p.key);
        if (prev === undefined) throw new CloudFormationApiError('ValidationError', `Parameter ${p.key} has no previous value (UsePreviousValue)`);
        parameters[p.key] = prev;
      } else if (p.value !== undefined) parameters[p.key] = p.value;
    }
    const missing = Object.entries(declared).filter(([k, d]) => d.Default === undefined && parameters[k] === undefined).map(([k]) => k);
    if (missing.length > 0) throw new CloudFormationApiError('ValidationError', `Parameters: [${missing.join(', ')}] must have values`);
    const changes = templateChanges(input.type === 'UPDATE' ? stack.template : undefined, input.template, this.#opts.replaces);
    // Compared as used: a value given now equal to the Default used before is no change.
    const paramsChanged = Object.entries(declared).some(([k, d]) => (parameters[k] ?? (d.Default === undefined ? undefined : String(d.Default))) !== this.#usedParameter(stack, k));
    const cs: ChangeSet = {
      id: `arn:aws:cloudformation:${this.#opts.region}:${LOCAL_ACCOUNT_ID}:changeSet/${input.changeSetName}/${randomUUID()}`,
      name: input.changeSetName,
      stackId: stack.id,
      stackName: stack.name,
      type: input.type,
      template: input.template,
      templateBody: input.templateBody,
      parameters,
      changes,
      createdAt: this.#now(),
      ...(input.description !== undefined ? { description: input.description } : {}),
      status: 'CREATE_COMPLETE',
      executionStatus: 'AVAILABLE',
    };
    // CloudFormation's answer to an update that changes nothing (the CDK CLI then deletes the change set).
    const outputsChanged = input.type === 'UPDATE' && JSON.stringify(input.template.Outputs ?? {}) !== JSON.stringify(stack.template?.Outputs ?? {});
    if (input.type === 'UPDATE' && changes.length === 0 && !paramsChanged && !outputsChanged) {
      cs.status = 'FAILED';
      cs.executionStatus = 'UNAVAILABLE';
      cs.statusReason = "The submitted information didn't contain changes. Submit different information to create a change set.";
    }
    stack.changeSets.set(cs.name, cs);
    return cs;
  }

  /** The value a stack's deployment used for a parameter (given, or its template's Default). */
  #usedParameter(stack: CfnStack, key: string): string | undefined {
    const used = stack.runtime?.deployment.parameters[key];
    if (used !== undefined) return Array.isArray(used) ? used.join(',') : used;
    if (stack.parameters[key] !== undefined) return stack.parameters[key];
    const d = stack.template?.Parameters?.[key]?.Default;
    return d === undefined ? undefined : Array.isArray(d) ? d.join(',') : String(d);
  }

  changeSet(stackRef: string | undefined, changeSetRef: string): ChangeSet {
    const stacks = stackRef !== undefined ? [this.get(stackRef)] : this.#all;
    for (const s of stacks) {
      for (const cs of s.changeSets.values()) if (cs.name === changeSetRef || cs.id === changeSetRef) return cs;
    }
    throw new CloudFormationApiError('ChangeSetNotFound', `ChangeSet [${changeSetRef}] does not exist`);
  }

  /** DeleteChangeSet: deleting one that does not exist succeeds, as CloudFormation answers (the CDK CLI deletes before creating). */
  deleteChangeSet(stackRef: string | undefined, changeSetRef: string): void {
    let cs: ChangeSet;
    try {
      cs = this.changeSet(stackRef, changeSetRef);
    } catch (err) {
      if (err instanceof CloudFormationApiError && err.code === 'ChangeSetNotFound') return;
      throw err;
    }
    if (cs.executionStatus === 'EXECUTE_IN_PROGRESS') throw new CloudFormationApiError('InvalidChangeSetStatus', `ChangeSet [${cs.id}] is being executed`);
    const stack = this.get(cs.stackId);
    stack.changeSets.delete(cs.name);
    // A stack that only ever had this change set goes with it.
    if (stack.status === 'REVIEW_IN_PROGRESS' && stack.changeSets.size === 0) this.#forget(stack);
  }

  #forget(stack: CfnStack): void {
    this.#byName.delete(stack.name);
  }

  /** ExecuteChangeSet: answers at once; the deployment runs in the background (poll DescribeStacks). */
  executeChangeSet(stackRef: string | undefined, changeSetRef: string): CfnStack {
    const cs = this.changeSet(stackRef, changeSetRef);
    if (cs.executionStatus !== 'AVAILABLE') throw new CloudFormationApiError('InvalidChangeSetStatus', `ChangeSet [${cs.id}] cannot be executed in its current status of [${cs.status}]${cs.statusReason ? `: ${cs.statusReason}` : ''}`);
    const stack = this.get(cs.stackId);
    if (IN_PROGRESS.test(stack.status) && stack.status !== 'REVIEW_IN_PROGRESS') throw new CloudFormationApiError('InvalidChangeSetStatus', `Stack ${stack.name} is in ${stack.status} state`);
    cs.executionStatus = 'EXECUTE_IN_PROGRESS';
    for (const other of stack.changeSets.values()) if (other !== cs) other.executionStatus = 'OBSOLETE';
    const creating = cs.type === 'CREATE';
    const prefix = creating ? 'CREATE' : 'UPDATE';
    this.#stackStatus(stack, `${prefix}_IN_PROGRESS`, 'User Initiated');
    const previous = stack.runtime;
    stack.busy = (async () => {
      let runtime: StackRuntime | undefined;
      try {
        // The running functions and pollers stop first (in-flight invocations finish); the kept
        // resources, and their data, are handed to the new deployment.
        await previous?.stop({ handBack: true });
        runtime = await this.#opts.deploy({ stackName: stack.name, template: cs.template, parameters: cs.parameters, ...(previous ? { previous: previous.deployment } : {}) });
      } catch (err) {
        const reason = (err as Error).message;
        this.#opts.log?.(`cloudformation: ${stack.name}: ${prefix.toLowerCase()} failed: ${reason}`);
        cs.executionStatus = 'EXECUTE_FAILED';
        this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.id, `${prefix}_FAILED`, reason);
        if (creating) {
          this.#stackStatus(stack, 'ROLLBACK_IN_PROGRESS', `The following resource(s) failed to create: ${reason}`);
          this.#stackStatus(stack, 'ROLLBACK_COMPLETE');
        } else {
          this.#stackStatus(stack, 'UPDATE_ROLLBACK_IN_PROGRESS', reason);
          // The previous deployment runs again, on the resources it had (the failed update deleted what it created).
          try {
            stack.runtime = await this.#opts.deploy({ stackName: stack.name, template: stack.template!, parameters: stack.parameters, previous: previous!.deployment });
            this.#stackStatus(stack, 'UPDATE_ROLLBACK_COMPLETE');
          } catch (again) {
            delete stack.runtime;
            this.#stackStatus(stack, 'UPDATE_ROLLBACK_FAILED', (again as Error).message);
          }
        }
        return;
      }
      stack.runtime = runtime;
      stack.template = cs.template;
      stack.templateBody = cs.templateBody;
      stack.parameters = cs.parameters;
      if (cs.description !== undefined) stack.description = cs.description;
      if (!creating) stack.updatedAt = this.#now();
      const deployment = runtime.deployment;
      const physical = (id: string): string => deployment.resources.get(id)?.ref ?? '';
      if (creating) {
        for (const [id, r] of deployment.resources) {
          this.#event(stack, id, r.type, '', 'CREATE_IN_PROGRESS');
          this.#event(stack, id, r.type, r.ref, 'CREATE_COMPLETE');
        }
      } else {
        for (const c of deployment.changes) {
          if (c.action === 'Remove') continue;
          const verb = c.action === 'Add' ? 'CREATE' : 'UPDATE';
          this.#event(stack, c.logicalId, c.type, physical(c.logicalId), `${verb}_IN_PROGRESS`, c.replacement ? 'Requested update requires the creation of a new physical resource; hence creating one.' : undefined);
          this.#event(stack, c.logicalId, c.type, physical(c.logicalId), `${verb}_COMPLETE`);
        }
        this.#stackStatus(stack, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
        // Replaced and removed resources go only after the update succeeded.
        const errors = await deployment.retire();
        for (const c of deployment.changes.filter((x) => x.action === 'Remove' || x.replacement)) {
          this.#event(stack, c.logicalId, c.type, '', 'DELETE_COMPLETE');
        }
        for (const e of errors) this.#opts.log?.(`cloudformation: ${stack.name}: cleanup: ${e.message}`);
      }
      cs.executionStatus = 'EXECUTE_COMPLETE';
      this.#stackStatus(stack, `${prefix}_COMPLETE`);
    })().finally(() => {
      delete stack.busy;
    });
    return stack;
  }

  /** DeleteStack: answers at once; deletes in the background. Deleting a stack that does not exist succeeds. */
  deleteStack(ref: string): void {
    const stack = this.#byName.get(ref) ?? this.#all.find((s) => s.id === ref && !s.deletedAt);
    if (!stack) return;
    if (stack.status === 'DELETE_IN_PROGRESS') return;
    if (IN_PROGRESS.test(stack.status) && stack.status !== 'REVIEW_IN_PROGRESS') throw new CloudFormationApiError('ValidationError', `Stack ${stack.name} is in ${stack.status} state and can not be deleted`);
    this.#stackStatus(stack, 'DELETE_IN_PROGRESS', 'User Initiated');
    stack.busy = (async () => {
      try {
        await stack.runtime?.stop({ destroy: true });
      } catch (err) {
        this.#stackStatus(stack, 'DELETE_FAILED', (err as Error).message);
        return;
      }
      for (const [id, r] of stack.runtime?.deployment.resources ?? []) this.#event(stack, id, r.type, r.ref, 'DELETE_COMPLETE');
      delete stack.runtime;
      stack.deletedAt = this.#now();
      this.#stackStatus(stack, 'DELETE_COMPLETE');
      this.#forget(stack);
    })().finally(() => {
      delete stack.busy;
    });
  }

  /**
   * UpdateFunctionCode (what `cdk deploy --hotswap` and `cdk watch` call): the stack's running part is
   * deployed again with the function's code replaced; nothing else changes (its template stays as
   * deployed, as on AWS, where a hotswap drifts from the template).
   */
  async updateFunctionCode(functionRef: string, assetDir: string): Promise<{ stack: CfnStack; logicalId: string }> {
    const found = this.stackOfFunction(functionRef);
    if (!found) throw new CloudFormationApiError('ResourceNotFoundException', `Function not found: ${functionRef}`, 404);
    const { stack, logicalId } = found;
    if (stack.busy || IN_PROGRESS.test(stack.status)) throw new CloudFormationApiError('ResourceConflictException', `The operation cannot be performed at this time: stack ${stack.name} is ${stack.status}`, 409);
    const runtime = stack.runtime!;
    const entry = runtime.deployment.provisioned.get(logicalId)!;
    const fn = entry.result.function!;
    const provisioned = new Map(runtime.deployment.provisioned);
    provisioned.set(logicalId, { ...entry, result: { ...entry.result, function: { ...fn, assetDir } } });
    const previous: LocalDeployment = { ...runtime.deployment, provisioned };
    const run = (async () => {
      await runtime.stop({ handBack: true });
      try {
        stack.runtime = await this.#opts.deploy({ stackName: stack.name, template: stack.template!, parameters: stack.parameters, previous });
      } catch (err) {
        // The previous code runs again.
        stack.runtime = await this.#opts.deploy({ stackName: stack.name, template: stack.template!, parameters: stack.parameters, previous: runtime.deployment });
        throw err;
      }
    })();
    stack.busy = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      delete stack.busy;
    }
    return found;
  }

  /** Stops every stack's functions and pollers (their resources stay, or go with the emulators). */
  async stop(): Promise<void> {
    for (const s of this.#all) await s.busy?.catch(() => undefined);
    for (const s of this.#byName.values()) await s.runtime?.stop().catch(() => undefined);
  }
}
