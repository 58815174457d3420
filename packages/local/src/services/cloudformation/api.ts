/**
 * The CloudFormation query API for stacks deployed through it (services/cloudformation/stacks.ts), what
 * the stock CDK CLI calls for bootstrap, deploy, diff, hotswap and destroy: CreateChangeSet,
 * DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet, ListChangeSets, DescribeStacks,
 * DescribeStackEvents, DescribeStackResources, ListStackResources, GetTemplate, GetTemplateSummary,
 * DeleteStack, ListStacks. The stack that `floodgate-local up` deployed from an assembly is still
 * answered by the read-only handler (handler.ts) it falls back to.
 */
import type { ServerResponse } from 'node:http';
import { parse as parseYaml, type Tags } from 'yaml';
import type { CfnTemplate } from '../../core/deployment/assembly.js';
import { escapeXml, queryError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayService, GatewayServiceFactory } from '../../gateway/types.js';
import { cloudformationService, queryParams, sendXml, stackMemberXml, stackView } from './handler.js';
import { CloudFormationApiError, type CfnStack, type ChangeSet, type CloudFormationStacks } from './stacks.js';

const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

const tag = (name: string, value: string | number | boolean | undefined): string => (value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`);
const iso = (d: Date | undefined): string | undefined => d?.toISOString();
const members = <T>(items: readonly T[], render: (x: T) => string): string => items.map((x) => `<member>${render(x)}</member>`).join('');

function respond(action: string, result: string, requestId: string): string {
  return `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata>${tag('RequestId', requestId)}</ResponseMetadata></${action}Response>`;
}

/** `Prefix.member.N.Field` lists of the query protocol. */
export function memberList(params: URLSearchParams, prefix: string): Array<Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d+)(?:\\.(.+))?$`);
  for (const [k, v] of params) {
    const m = re.exec(k);
    if (!m) continue;
    const n = Number(m[1]);
    const entry = out.get(n) ?? {};
    entry[m[2] ?? ''] = v;
    out.set(n, entry);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
}

/** The template of a TemplateURL (an S3 object URL, virtual-hosted or path-style, or on the endpoint). */
export function parseTemplateUrl(url: string): { bucket: string; key: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CloudFormationApiError('ValidationError', `TemplateURL must be a URL (got "${url}")`);
  }
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const virtual = /^(.+)\.s3[.-](?:[\w-]+\.)?amazonaws\.com$/.exec(u.hostname) ?? /^(.+)\.s3\.amazonaws\.com$/.exec(u.hostname);
  if (virtual) return { bucket: virtual[1]!, key: path };
  const slash = path.indexOf('/');
  if (slash <= 0) throw new CloudFormationApiError('ValidationError', `TemplateURL must name an S3 object (got "${url}")`);
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

/** CloudFormation's short-form YAML tags (`!Ref X`, `!Sub [...]`, `!GetAtt A.B`) as their long form. */
const SHORT_FORMS = ['Ref', 'Condition', 'Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'Transform', 'And', 'Equals', 'If', 'Not', 'Or'];
const CFN_TAGS: Tags = SHORT_FORMS.flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const wrap = (value: unknown): unknown => ({ [key]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value });
  return [
    { tag: `!${name}`, resolve: (str: string) => wrap(str) },
    { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => wrap(seq.toJSON()) },
    { tag: `!${name}`, collection: 'map' as const, resolve: (map: { toJSON(): unknown }) => wrap(map.toJSON()) },
  ];
}) as unknown as Tags;

/** Reads a template body: JSON, or YAML (the CDK CLI sends the bootstrap template as YAML). */
export function parseTemplate(body: string): CfnTemplate {
  let t: unknown;
  try {
    t = /^\s*\{/.test(body) ? JSON.parse(body) : parseYaml(body, { customTags: CFN_TAGS });
  } catch (err) {
    throw new CloudFormationApiError('ValidationError', `Template format error: ${(err as Error).message}`);
  }
  if (typeof t !== 'object' || t === null || typeof (t as { Resources?: unknown }).Resources !== 'object') throw new CloudFormationApiError('ValidationError', 'Template format error: At least one Resources member must be defined.');
  return t as CfnTemplate;
}

function outputsXml(stack: CfnStack): string {
  const declared = stack.template?.Outputs ?? {};
  const outputs = stack.runtime?.outputs ?? {};
  return members(Object.entries(outputs), ([key, value]) => {
    const d = declared[key] as { Description?: unknown; Export?: { Name?: unknown } } | undefined;
    const exportName = d?.Export?.Name !== undefined ? stack.runtime?.deployment.resolve(d.Export.Name) : undefined;
    return `${tag('OutputKey', key)}${tag('OutputValue', value)}${typeof d?.Description === 'string' ? tag('Description', d.Description) : ''}${typeof exportName === 'string' ? tag('ExportName', exportName) : ''}`;
  });
}

function parametersXml(parameters: Readonly<Record<string, string | string[]>>): string {
  return members(Object.entries(parameters), ([k, v]) => `${tag('ParameterKey', k)}${tag('ParameterValue', Array.isArray(v) ? v.join(',') : v)}`);
}

export function stackXml(stack: CfnStack): string {
  // The values the deployment used: given ones, else Defaults (DescribeStacks lists every parameter).
  const params = stack.runtime?.deployment.parameters ?? stack.parameters;
  return (
    `${tag('StackName', stack.name)}${tag('StackId', stack.id)}${tag('Description', stack.description ?? (stack.template as { Description?: string } | undefined)?.Description)}` +
    `${tag('CreationTime', iso(stack.createdAt))}${tag('LastUpdatedTime', iso(stack.updatedAt))}${tag('DeletionTime', iso(stack.deletedAt))}` +
    `${tag('StackStatus', stack.status)}${tag('StackStatusReason', stack.statusReason)}<DisableRollback>false</DisableRollback><EnableTerminationProtection>false</EnableTerminationProtection>` +
    `<Parameters>${parametersXml(params)}</Parameters><Outputs>${outputsXml(stack)}</Outputs><Capabilities/><Tags/><NotificationARNs/>`
  );
}

function changeSetXml(cs: ChangeSet, stack: CfnStack): string {
  const changes = members(
    cs.changes,
    (c) => {
      const details = members(c.properties ?? [], (p) => `<Target>${tag('Attribute', 'Properties')}${tag('Name', p.name)}${tag('RequiresRecreation', p.requiresRecreation)}</Target>${tag('Evaluation', 'Static')}${tag('ChangeSource', 'DirectModification')}`);
      const scope = c.properties && c.properties.length > 0 ? '<Scope><member>Properties</member></Scope>' : '<Scope/>';
      return `<Type>Resource</Type><ResourceChange>${tag('Action', c.action)}${tag('LogicalResourceId', c.logicalId)}${c.action !== 'Add' ? tag('PhysicalResourceId', stack.runtime?.deployment.resources.get(c.logicalId)?.ref) : ''}${tag('ResourceType', c.type)}${tag('Replacement', c.replacement)}${scope}<Details>${details}</Details></ResourceChange>`;
    },
  );
  return (
    `${tag('ChangeSetName', cs.name)}${tag('ChangeSetId', cs.id)}${tag('StackId', cs.stackId)}${tag('StackName', cs.stackName)}${tag('Description', cs.description)}` +
    `<Parameters>${parametersXml(cs.parameters)}</Parameters>${tag('CreationTime', iso(cs.createdAt))}${tag('ExecutionStatus', cs.executionStatus)}${tag('Status', cs.status)}${tag('StatusReason', cs.statusReason)}` +
    `<Capabilities/><Tags/><NotificationARNs/><Changes>${changes}</Changes>`
  );
}

function resourcesOf(stack: CfnStack): Array<{ logicalId: string; physicalId: string; type: string }> {
  return [...(stack.runtime?.deployment.resources ?? [])].map(([logicalId, r]) => ({ logicalId, physicalId: r.ref, type: r.type }));
}

export interface CloudFormationApiOptions {
  readonly stacks: CloudFormationStacks;
  /** Reads an S3 object of the endpoint (a TemplateURL). */
  readonly readObject: (bucket: string, key: string) => Promise<string>;
  /** Each action served, for the `up` output. */
  readonly log?: (line: string) => void;
}

export function cloudformationApiService(options: CloudFormationApiOptions): GatewayServiceFactory {
  const { stacks } = options;
  return (ctx: GatewayContext): GatewayService => {
    const attached = cloudformationService(ctx);
    return {
      name: 'cloudformation',
      signingNames: ['cloudformation'],
      claims: (r) => r.action !== undefined && r.version === '2010-05-15',
      async handle(req, res) {
        const params = await queryParams(req);
        const action = params.get('Action') ?? '';
        const requestId = crypto.randomUUID();
        const stackName = params.get('StackName') ?? undefined;
        const ok = (result: string): void => sendXml(res, respond(action, result, requestId));
        // The stack `up` deployed from its assembly is answered read-only by the attached handler.
        const attachedStack = ctx.stack();
        const isAttached = attachedStack !== undefined && attachedStack.deployment.model.resources.length > 0 && stackName !== undefined && (stackName === attachedStack.stackName || stackName.includes(`:stack/${attachedStack.stackName}/`));
        try {
          if (isAttached && (action === 'DescribeStacks' || action === 'ListStackResources')) return await attached.handle(req, res);
          if (isAttached) throw new CloudFormationApiError('ValidationError', `Stack ${stackName} was deployed by \`floodgate-local up\` from its cloud assembly: it is not changed through the CloudFormation API. Start \`floodgate-local up --no-deploy\` and deploy it with the CDK CLI instead.`);
          switch (action) {
            case 'CreateChangeSet': {
              const name = params.get('ChangeSetName') ?? '';
              if (!stackName || !name) throw new CloudFormationApiError('ValidationError', 'StackName and ChangeSetName are required');
              const type = (params.get('ChangeSetType') ?? 'UPDATE') as 'CREATE' | 'UPDATE';
              if (type !== 'CREATE' && type !== 'UPDATE') throw new CloudFormationApiError('ValidationError', `ChangeSetType ${String(type)} is not supported locally (CREATE and UPDATE are; IMPORT is not)`);
              let body = params.get('TemplateBody') ?? undefined;
              const url = params.get('TemplateURL') ?? undefined;
              if (params.get('UsePreviousTemplate') === 'true') body = stacks.get(stackName).templateBody;
              if (body === undefined && url !== undefined) {
                const { bucket, key } = parseTemplateUrl(url);
                try {
                  body = await options.readObject(bucket, key);
                } catch (err) {
                  throw new CloudFormationApiError('ValidationError', `TemplateURL ${url}: cannot read s3://${bucket}/${key} on the local endpoint: ${(err as Error).message}`);
                }
              }
              if (body === undefined) throw new CloudFormationApiError('ValidationError', 'Either TemplateBody or TemplateURL must be given');
              const template = parseTemplate(body);
              const parameters = memberList(params, 'Parameters').map((p) => ({ key: p.ParameterKey ?? '', ...(p.ParameterValue !== undefined ? { value: p.ParameterValue } : {}), usePrevious: p.UsePreviousValue === 'true' }));
              const cs = stacks.createChangeSet({ stackName, changeSetName: name, type, template, templateBody: body, parameters, ...(params.get('Description') ? { description: params.get('Description')! } : {}) });
              options.log?.(`cloudformation: change set ${name} (${type}) for ${stackName}: ${cs.changes.length} change(s)`);
              return ok(`${tag('Id', cs.id)}${tag('StackId', cs.stackId)}`);
            }
            case 'DescribeChangeSet':
              return ok(changeSetXml(stacks.changeSet(stackName, params.get('ChangeSetName') ?? ''), stacks.get(stacks.changeSet(stackName, params.get('ChangeSetName') ?? '').stackId)));
            case 'ListChangeSets': {
              const stack = stacks.get(stackName ?? '');
              return ok(`<Summaries>${members([...stack.changeSets.values()], (cs) => `${tag('ChangeSetId', cs.id)}${tag('ChangeSetName', cs.name)}${tag('StackId', cs.stackId)}${tag('StackName', cs.stackName)}${tag('ExecutionStatus', cs.executionStatus)}${tag('Status', cs.status)}${tag('CreationTime', iso(cs.createdAt))}`)}</Summaries>`);
            }
            case 'DeleteChangeSet':
              stacks.deleteChangeSet(stackName, params.get('ChangeSetName') ?? '');
              return ok('');
            case 'ExecuteChangeSet': {
              const stack = stacks.executeChangeSet(stackName, params.get('ChangeSetName') ?? '');
              options.log?.(`cloudformation: ${stack.name}: ${stack.status}`);
              return ok('');
            }
            case 'DescribeStacks': {
              if (stackName === undefined) {
                // The stack `up` deployed from its assembly is listed too.
                const own = attachedStack && attachedStack.deployment.model.resources.length > 0 ? `<member>${stackMemberXml(stackView(attachedStack))}</member>` : '';
                return ok(`<Stacks>${own}${members(stacks.live(), stackXml)}</Stacks>`);
              }
              return ok(`<Stacks><member>${stackXml(stacks.get(stackName))}</member></Stacks>`);
            }
            case 'ListStacks': {
              const filter = memberList(params, 'StackStatusFilter').map((m) => m['']);
              const list = stacks.all().filter((s) => filter.length === 0 || filter.includes(s.status));
              return ok(`<StackSummaries>${members(list, (s) => `${tag('StackId', s.id)}${tag('StackName', s.name)}${tag('CreationTime', iso(s.createdAt))}${tag('LastUpdatedTime', iso(s.updatedAt))}${tag('DeletionTime', iso(s.deletedAt))}${tag('StackStatus', s.status)}${tag('StackStatusReason', s.statusReason)}`)}</StackSummaries>`);
            }
            case 'DescribeStackEvents': {
              const stack = stacks.get(stackName ?? '');
              return ok(`<StackEvents>${members(stack.events, (e) => `${tag('StackId', e.stackId)}${tag('EventId', e.eventId)}${tag('StackName', e.stackName)}${tag('LogicalResourceId', e.logicalId)}${tag('PhysicalResourceId', e.physicalId)}${tag('ResourceType', e.resourceType)}${tag('Timestamp', iso(e.timestamp))}${tag('ResourceStatus', e.status)}${tag('ResourceStatusReason', e.reason)}`)}</StackEvents>`);
            }
            case 'ListStackResources': {
              const stack = stacks.get(stackName ?? '');
              const ts = iso(stack.updatedAt ?? stack.createdAt);
              return ok(`<StackResourceSummaries>${members(resourcesOf(stack), (r) => `${tag('LogicalResourceId', r.logicalId)}${tag('PhysicalResourceId', r.physicalId)}${tag('ResourceType', r.type)}${tag('LastUpdatedTimestamp', ts)}${tag('ResourceStatus', 'CREATE_COMPLETE')}`)}</StackResourceSummaries>`);
            }
            case 'DescribeStackResources':
            case 'DescribeStackResource': {
              const stack = stacks.get(stackName ?? '');
              const wanted = params.get('LogicalResourceId') ?? undefined;
              const ts = iso(stack.updatedAt ?? stack.createdAt);
              const list = resourcesOf(stack).filter((r) => wanted === undefined || r.logicalId === wanted);
              const render = (r: { logicalId: string; physicalId: string; type: string }): string => `${tag('StackName', stack.name)}${tag('StackId', stack.id)}${tag('LogicalResourceId', r.logicalId)}${tag('PhysicalResourceId', r.physicalId)}${tag('ResourceType', r.type)}${tag('Timestamp', ts)}${tag('LastUpdatedTimestamp', ts)}${tag('ResourceStatus', 'CREATE_COMPLETE')}`;
              if (action === 'DescribeStackResource') {
                if (list.length === 0) throw new CloudFormationApiError('ValidationError', `Resource ${wanted} does not exist for stack ${stack.name}`);
                return ok(`<StackResourceDetail>${render(list[0]!)}</StackResourceDetail>`);
              }
              return ok(`<StackResources>${members(list, render)}</StackResources>`);
            }
            case 'GetTemplate': {
              const csName = params.get('ChangeSetName');
              const stack = csName ? undefined : stacks.get(stackName ?? '');
              const body = csName ? stacks.changeSet(stackName, csName).templateBody : stack!.templateBody;
              return ok(`${tag('TemplateBody', body ?? '{}')}<StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>`);
            }
            case 'GetTemplateSummary': {
              let template: CfnTemplate | undefined;
              if (params.get('TemplateBody')) template = parseTemplate(params.get('TemplateBody')!);
              else if (params.get('TemplateURL')) {
                const { bucket, key } = parseTemplateUrl(params.get('TemplateURL')!);
                template = parseTemplate(await options.readObject(bucket, key));
              } else template = stacks.get(stackName ?? '').template;
              const declared = Object.entries(template?.Parameters ?? {});
              const types = [...new Set(Object.values(template?.Resources ?? {}).map((r) => r.Type))];
              return ok(
                `<Parameters>${members(declared, ([k, p]) => `${tag('ParameterKey', k)}${tag('ParameterType', p.Type)}${p.Default !== undefined ? tag('DefaultValue', Array.isArray(p.Default) ? p.Default.join(',') : String(p.Default)) : ''}<NoEcho>false</NoEcho>`)}</Parameters>` +
                  `<ResourceTypes>${members(types, (t) => escapeXml(t))}</ResourceTypes><Capabilities/><DeclaredTransforms/>`,
              );
            }
            case 'DeleteStack':
              if (!stackName) throw new CloudFormationApiError('ValidationError', 'StackName is required');
              stacks.deleteStack(stackName);
              options.log?.(`cloudformation: ${stackName}: DELETE requested`);
              return ok('');
            default:
              throw new CloudFormationApiError('InvalidAction', `${action || 'no Action'} is not served by the local stack's CloudFormation (CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet, ListChangeSets, DescribeStacks, ListStacks, DescribeStackEvents, DescribeStackResources, ListStackResources, GetTemplate, GetTemplateSummary and DeleteStack are)`);
          }
        } catch (err) {
          if (err instanceof CloudFormationApiError) {
            if (err.code === 'InvalidAction') options.log?.(`cloudformation: ${err.message}`);
            return this.error(req, res, { status: err.status, code: err.code, message: err.message });
          }
          throw err;
        }
      },
      error: (_req, res, err) => queryError(res, err),
    };
  };
}
