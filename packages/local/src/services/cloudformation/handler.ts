/**
 * The CloudFormation query API on the one endpoint, answered from the attached local stack:
 * DescribeStacks (with outputs) and ListStackResources. The XML shapes are pure functions.
 */
import type { ServerResponse } from 'node:http';
import { stackId } from './stack-id.js';
import type { AttachedStack, GatewayContext, GatewayRequest, GatewayService } from '../../gateway/types.js';
import { escapeXml, queryError } from '../../gateway/protocol-errors.js';

const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export interface StackView {
  readonly stackName: string;
  readonly stackId: string;
  readonly createdAt: string;
  readonly outputs: ReadonlyArray<{ readonly key: string; readonly value: string; readonly description?: string; readonly exportName?: string }>;
  readonly resources: ReadonlyArray<{ readonly logicalId: string; readonly physicalId: string; readonly type: string }>;
}

export { stackId } from './stack-id.js';

const createdAt = new WeakMap<AttachedStack, string>();

/** What the two calls report about a local stack. */
export function stackView(stack: AttachedStack): StackView {
  if (!createdAt.has(stack)) createdAt.set(stack, new Date().toISOString());
  const declared = stack.template.Outputs ?? {};
  return {
    stackName: stack.stackName,
    stackId: stackId(stack.region, stack.stackName, stack.deployment.prefix),
    createdAt: createdAt.get(stack)!,
    outputs: Object.entries(stack.outputs).map(([key, value]) => {
      const d = declared[key] as { Description?: unknown; Export?: { Name?: unknown } } | undefined;
      const exportName = d?.Export?.Name !== undefined ? stack.deployment.resolve(d.Export.Name) : undefined;
      return { key, value, ...(typeof d?.Description === 'string' ? { description: d.Description } : {}), ...(typeof exportName === 'string' ? { exportName } : {}) };
    }),
    resources: [...stack.deployment.resources.entries()].map(([logicalId, r]) => ({ logicalId, physicalId: r.ref, type: r.type })),
  };
}

const tag = (name: string, value: string | undefined): string => (value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`);

/** One stack of a DescribeStacks answer (its <member> content). */
export function stackMemberXml(v: StackView): string {
  const outputs = v.outputs.map((o) => `<member>${tag('OutputKey', o.key)}${tag('OutputValue', o.value)}${tag('Description', o.description)}${tag('ExportName', o.exportName)}</member>`).join('');
  return `${tag('StackName', v.stackName)}${tag('StackId', v.stackId)}${tag('CreationTime', v.createdAt)}${tag('StackStatus', 'CREATE_COMPLETE')}<DisableRollback>false</DisableRollback><Outputs>${outputs}</Outputs>`;
}

export function describeStacksXml(v: StackView, requestId: string): string {
  return `<DescribeStacksResponse xmlns="${NS}"><DescribeStacksResult><Stacks><member>${stackMemberXml(v)}</member></Stacks></DescribeStacksResult><ResponseMetadata>${tag('RequestId', requestId)}</ResponseMetadata></DescribeStacksResponse>`;
}

export function listStackResourcesXml(v: StackView, requestId: string): string {
  const members = v.resources
    .map((r) => `<member>${tag('LogicalResourceId', r.logicalId)}${tag('PhysicalResourceId', r.physicalId)}${tag('ResourceType', r.type)}${tag('LastUpdatedTimestamp', v.createdAt)}${tag('ResourceStatus', 'CREATE_COMPLETE')}</member>`)
    .join('');
  return `<ListStackResourcesResponse xmlns="${NS}"><ListStackResourcesResult><StackResourceSummaries>${members}</StackResourceSummaries></ListStackResourcesResult><ResponseMetadata>${tag('RequestId', requestId)}</ResponseMetadata></ListStackResourcesResponse>`;
}

/** A 200 answer of the query protocol. */
export function sendXml(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** The query protocol's parameters: the query string, and the form body of a POST (which wins). */
export async function queryParams(req: GatewayRequest): Promise<URLSearchParams> {
  const params = new URLSearchParams(req.rawQuery);
  if (req.method === 'POST') for (const [k, v] of new URLSearchParams((await req.body()).toString('utf8'))) params.set(k, v);
  return params;
}

export function cloudformationService(ctx: GatewayContext): GatewayService {
  return {
    name: 'cloudformation',
    signingNames: ['cloudformation'],
    claims: (r) => r.action !== undefined && r.version === '2010-05-15',
    async handle(req, res) {
      const params = await queryParams(req);
      const action = params.get('Action') ?? '';
      const stack = ctx.stack();
      const requestId = crypto.randomUUID();
      if (action !== 'DescribeStacks' && action !== 'ListStackResources') {
        return this.error(req, res, { status: 400, code: 'InvalidAction', message: `The local stack serves DescribeStacks and ListStackResources (got ${action || 'no Action'})` });
      }
      const wanted = params.get('StackName') ?? undefined;
      const view = stack ? stackView(stack) : undefined;
      const matches = view && (wanted === undefined || wanted === view.stackName || wanted === view.stackId);
      if (!matches) {
        if (action === 'DescribeStacks' && wanted === undefined) return sendXml(res, `<DescribeStacksResponse xmlns="${NS}"><DescribeStacksResult><Stacks/></DescribeStacksResult><ResponseMetadata>${tag('RequestId', requestId)}</ResponseMetadata></DescribeStacksResponse>`);
        return this.error(req, res, { status: 400, code: 'ValidationError', message: `Stack with id ${wanted ?? '(none)'} does not exist` });
      }
      sendXml(res, action === 'DescribeStacks' ? describeStacksXml(view, requestId) : listStackResourcesXml(view, requestId));
    },
    error: (_req, res, err) => queryError(res, err),
  };
}
