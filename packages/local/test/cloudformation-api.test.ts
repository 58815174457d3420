/**
 * The CloudFormation API the stock CDK CLI drives (issue 24 part 2), in its pure parts and against the
 * emulators: change sets and stack states over a deployer, the template readers, STS and SSM answers, and
 * the deployer's update (kept, in place, replaced, removed resources) on real queues.
 */
import { GetQueueAttributesCommand, ListQueuesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnTemplate } from '../src/core/deployment/assembly';
import { deployTemplate, UnsupportedResourceError, type LocalDeployment } from '../src/core/deployment/deploy';
import { memberList, parseTemplate, parseTemplateUrl } from '../src/services/cloudformation/api';
import { CloudFormationStacks, templateChanges, type DeployRequest, type StackRuntime } from '../src/services/cloudformation/stacks';
import { unpackZip } from '../src/services/lambda/code-asset';
import { ssmOperation } from '../src/services/ssm/handler';
import { ParameterStore } from '../src/services/ssm/store';
import { stsResponse } from '../src/services/sts/handler';
import { parseCli } from '../src/cli/args';
import { localClients, localEndpoints } from '../../../test/support/local-env';

const QUEUE = (props: Record<string, unknown> = {}) => ({ Type: 'AWS::SQS::Queue', Properties: props });
const TABLE = (key: string, TableName?: string) => ({
  Type: 'AWS::DynamoDB::Table',
  Properties: { ...(TableName ? { TableName } : {}), BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], KeySchema: [{ AttributeName: key, KeyType: 'HASH' }] },
});

describe('templates as the CLI sends them', () => {
  it('reads JSON, and YAML with the short-form tags', () => {
    expect(parseTemplate('{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}').Resources.Q!.Type).toBe('AWS::SQS::Queue');
    const t = parseTemplate(['Resources:', '  Q:', '    Type: AWS::SQS::Queue', '    Properties:', '      QueueName: !Sub "${AWS::StackName}-q"', '      Tags:', '        - Key: arn', '          Value: !GetAtt Other.Arn', '        - Key: j', "          Value: !Join ['-', [!Ref A, b]]"].join('\n'));
    expect(t.Resources.Q!.Properties).toEqual({ QueueName: { 'Fn::Sub': '${AWS::StackName}-q' }, Tags: [{ Key: 'arn', Value: { 'Fn::GetAtt': ['Other', 'Arn'] } }, { Key: 'j', Value: { 'Fn::Join': ['-', [{ Ref: 'A' }, 'b']] } }] });
    expect(() => parseTemplate('{ not json')).toThrow(/Template format error/);
    expect(() => parseTemplate('Description: x')).toThrow(/At least one Resources member/);
  });

  it('reads the CDK bootstrap template the CLI sends', () => {
    const t = parseTemplate(readFileSync(join(__dirname, '../../../node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml'), 'utf8'));
    expect(t.Resources.CdkBootstrapVersion!.Type).toBe('AWS::SSM::Parameter');
    expect(t.Resources.ContainerAssetsRepository!.Type).toBe('AWS::ECR::Repository');
  });

  it('finds the S3 object of a TemplateURL in each URL style', () => {
    expect(parseTemplateUrl('https://s3.us-east-1.amazonaws.com/cdk-hnb659fds-assets-000000000000-us-east-1/abc.json')).toEqual({ bucket: 'cdk-hnb659fds-assets-000000000000-us-east-1', key: 'abc.json' });
    expect(parseTemplateUrl('https://my-bucket.s3.us-east-1.amazonaws.com/a/b.json')).toEqual({ bucket: 'my-bucket', key: 'a/b.json' });
    expect(parseTemplateUrl('https://my-bucket.s3.amazonaws.com/b.json')).toEqual({ bucket: 'my-bucket', key: 'b.json' });
    expect(parseTemplateUrl('http://127.0.0.1:4566/bkt/k.json')).toEqual({ bucket: 'bkt', key: 'k.json' });
    expect(() => parseTemplateUrl('not a url')).toThrow(/TemplateURL/);
  });

  it('reads the query protocol member lists', () => {
    const p = new URLSearchParams('Parameters.member.2.ParameterKey=B&Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=1&Parameters.member.2.UsePreviousValue=true');
    expect(memberList(p, 'Parameters')).toEqual([{ ParameterKey: 'A', ParameterValue: '1' }, { ParameterKey: 'B', UsePreviousValue: 'true' }]);
  });

  it('lists a change set as Add / Modify / Remove', () => {
    const before: CfnTemplate = { Resources: { Keep: QUEUE(), Change: QUEUE({ DelaySeconds: 1 }), Gone: QUEUE() } };
    const after: CfnTemplate = { Resources: { Keep: QUEUE(), Change: QUEUE({ DelaySeconds: 2 }), New: QUEUE() } };
    expect(templateChanges(before, after)).toEqual([
      { action: 'Modify', logicalId: 'Change', type: 'AWS::SQS::Queue', replacement: 'False', properties: [{ name: 'DelaySeconds', requiresRecreation: 'Never' }] },
      { action: 'Add', logicalId: 'New', type: 'AWS::SQS::Queue' },
      { action: 'Remove', logicalId: 'Gone', type: 'AWS::SQS::Queue' },
    ]);
    // As the deployer replaces a changed queue it does not update in place.
    expect(templateChanges(before, after, (t) => t === 'AWS::SQS::Queue')[0]).toMatchObject({ replacement: 'True', properties: [{ name: 'DelaySeconds', requiresRecreation: 'Always' }] });
  });
});

describe('floodgate-local up --no-deploy', () => {
  it('parses, and takes no app', () => {
    expect(parseCli(['up', '--no-deploy', '--keep'], {})).toEqual({ command: 'up', keep: true, json: false, noDeploy: true });
    expect(() => parseCli(['up', '--no-deploy', '--assembly', 'cdk.out'], {})).toThrow(/--no-deploy deploys no app/);
  });
});

describe('STS and SSM answers', () => {
  const opts = { accountId: '000000000000', requestId: 'r', now: new Date('2026-01-01T00:00:00Z') };
  it('GetCallerIdentity names the local account; AssumeRole answers a session of the role', () => {
    const id = stsResponse('GetCallerIdentity', new URLSearchParams(), opts);
    expect(id.ok && id.xml).toContain('<Account>000000000000</Account>');
    const r = stsResponse('AssumeRole', new URLSearchParams({ RoleArn: 'arn:aws:iam::000000000000:role/cdk-hnb659fds-deploy-role-000000000000-us-east-1', RoleSessionName: 'aws-cdk-root' }), opts);
    expect(r.ok && r.xml).toContain('<Arn>arn:aws:sts::000000000000:assumed-role/cdk-hnb659fds-deploy-role-000000000000-us-east-1/aws-cdk-root</Arn>');
    expect(r.ok && r.xml).toContain('<Expiration>2026-01-01T01:00:00.000Z</Expiration>');
    expect(stsResponse('AssumeRole', new URLSearchParams({ RoleArn: 'nope', RoleSessionName: 'x1' }), opts)).toMatchObject({ ok: false, code: 'ValidationError' });
    expect(stsResponse('GetSessionToken', new URLSearchParams(), opts)).toMatchObject({ ok: false, code: 'InvalidAction' });
  });

  it('Parameter Store: put, versions, get, not found, delete', () => {
    const store = new ParameterStore();
    expect(ssmOperation(store, 'PutParameter', { Name: '/cdk-bootstrap/hnb659fds/version', Value: '30', Type: 'String' }, 'us-east-1')).toEqual({ Version: 1, Tier: 'Standard' });
    expect(() => ssmOperation(store, 'PutParameter', { Name: '/cdk-bootstrap/hnb659fds/version', Value: '31' }, 'us-east-1')).toThrow(/already exists/);
    expect(ssmOperation(store, 'PutParameter', { Name: '/cdk-bootstrap/hnb659fds/version', Value: '31', Overwrite: true }, 'us-east-1')).toMatchObject({ Version: 2 });
    expect(ssmOperation(store, 'GetParameter', { Name: '/cdk-bootstrap/hnb659fds/version' }, 'us-east-1')).toMatchObject({ Parameter: { Value: '31', Version: 2, Type: 'String' } });
    expect(ssmOperation(store, 'GetParametersByPath', { Path: '/cdk-bootstrap', Recursive: true }, 'us-east-1').Parameters).toHaveLength(1);
    expect(() => ssmOperation(store, 'GetParameter', { Name: '/missing' }, 'us-east-1')).toThrow(/Parameter \/missing not found/);
    ssmOperation(store, 'DeleteParameter', { Name: '/cdk-bootstrap/hnb659fds/version' }, 'us-east-1');
    expect(store.get('/cdk-bootstrap/hnb659fds/version')).toBeUndefined();
  });

  it('unpacks a function .zip once per content, and refuses an entry outside its root', () => {
    const zip = zipSync({ 'index.js': new TextEncoder().encode('exports.handler = async () => 1;'), 'lib/a.js': new Uint8Array([1]) });
    const dir = unpackZip(zip);
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toContain('exports.handler');
    expect(unpackZip(zip)).toBe(dir);
    expect(() => unpackZip(zipSync({ '../evil.js': new Uint8Array([1]) }))).toThrow(/outside its root/);
    expect(() => unpackZip(new Uint8Array([1, 2, 3]))).toThrow(/not a readable .zip/);
  });
});

describe('CloudFormation stacks over a deployer', () => {
  const runtime = (req: DeployRequest, stops: string[]): StackRuntime => ({
    deployment: { parameters: req.parameters, resources: new Map(Object.keys(req.template.Resources).map((id) => [id, { type: req.template.Resources[id]!.Type, ref: `${id}-phys`, attributes: {} }])), changes: [], functions: [], provisioned: new Map(), retire: async () => [] } as unknown as LocalDeployment,
    outputs: {},
    endpoint: 'http://stack',
    async stop(o) {
      stops.push(o?.destroy ? 'destroy' : 'stop');
    },
  });

  it('create, an update with no changes, an update, a failed update rolled back, delete', async () => {
    const stops: string[] = [];
    const requests: DeployRequest[] = [];
    const stacks = new CloudFormationStacks({
      region: 'us-east-1',
      deploy: async (req) => {
        requests.push(req);
        if (req.template.Resources.Bad) throw new UnsupportedResourceError('Bad (AWS::Pipes::Pipe): cannot be emulated');
        return runtime(req, stops);
      },
    });
    const v1: CfnTemplate = { Parameters: { BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/hnb659fds/version' } }, Resources: { Q: QUEUE() } };
    expect(() => stacks.get('App')).toThrow(/Stack with id App does not exist/);
    const cs = stacks.createChangeSet({ stackName: 'App', changeSetName: 'cs1', type: 'CREATE', template: v1, templateBody: JSON.stringify(v1), parameters: [] });
    expect(stacks.get('App').status).toBe('REVIEW_IN_PROGRESS');
    expect(cs.changes).toEqual([{ action: 'Add', logicalId: 'Q', type: 'AWS::SQS::Queue' }]);
    stacks.executeChangeSet('App', 'cs1');
    expect(stacks.get('App').status).toBe('CREATE_IN_PROGRESS');
    await stacks.get('App').busy;
    expect(stacks.get('App').status).toBe('CREATE_COMPLETE');

    // The CLI's second deploy of the same template: UsePreviousValue for the parameter, nothing changes.
    const same = stacks.createChangeSet({ stackName: 'App', changeSetName: 'cs2', type: 'UPDATE', template: v1, templateBody: JSON.stringify(v1), parameters: [{ key: 'BootstrapVersion', usePrevious: true }] });
    expect(same).toMatchObject({ status: 'FAILED', executionStatus: 'UNAVAILABLE', statusReason: expect.stringContaining("didn't contain changes") });
    expect(() => stacks.executeChangeSet('App', 'cs2')).toThrow(/cannot be executed/);
    stacks.deleteChangeSet('App', 'cs2');
    stacks.deleteChangeSet('App', 'never-made');

    const v2: CfnTemplate = { ...v1, Resources: { Q: QUEUE({ DelaySeconds: 5 }), R: QUEUE() } };
    stacks.createChangeSet({ stackName: 'App', changeSetName: 'cs3', type: 'UPDATE', template: v2, templateBody: JSON.stringify(v2), parameters: [] });
    stacks.executeChangeSet('App', 'cs3');
    await stacks.get('App').busy;
    expect(stacks.get('App').status).toBe('UPDATE_COMPLETE');
    // The running stack stopped before the update, and was handed over as `previous`.
    expect(stops).toEqual(['stop']);
    expect(requests[1]!.previous).toBeDefined();

    const v3: CfnTemplate = { Resources: { ...v2.Resources, Bad: { Type: 'AWS::Pipes::Pipe' } } };
    stacks.createChangeSet({ stackName: 'App', changeSetName: 'cs4', type: 'UPDATE', template: v3, templateBody: JSON.stringify(v3), parameters: [] });
    stacks.executeChangeSet('App', 'cs4');
    await stacks.get('App').busy;
    expect(stacks.get('App').status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(stacks.get('App').events.map((e) => e.status)).toContain('UPDATE_FAILED');
    expect(stacks.get('App').events.find((e) => e.status === 'UPDATE_FAILED')!.reason).toMatch(/AWS::Pipes::Pipe/);
    // Rolled back to v2.
    expect(requests.at(-1)!.template).toBe(v2);

    const id = stacks.get('App').id;
    stacks.deleteStack('App');
    await stacks.get(id).busy;
    expect(stacks.find('App')).toBeUndefined();
    expect(stacks.get(id).status).toBe('DELETE_COMPLETE');
    expect(stops.at(-1)).toBe('destroy');
    // Deleting again is a no-op, as on AWS.
    stacks.deleteStack('App');
  });

  it('a create that fails ends ROLLBACK_COMPLETE with the reason; a missing parameter is refused', async () => {
    const stacks = new CloudFormationStacks({ region: 'us-east-1', deploy: async () => Promise.reject(new Error('boom')) });
    const t: CfnTemplate = { Resources: { Q: QUEUE() } };
    stacks.createChangeSet({ stackName: 'Bad', changeSetName: 'c', type: 'CREATE', template: t, templateBody: '{}', parameters: [] });
    stacks.executeChangeSet('Bad', 'c');
    await stacks.get('Bad').busy;
    expect(stacks.get('Bad').status).toBe('ROLLBACK_COMPLETE');
    expect(stacks.get('Bad').events.some((e) => e.reason?.includes('boom'))).toBe(true);
    const needs: CfnTemplate = { Parameters: { P: { Type: 'String' } }, Resources: { Q: QUEUE() } };
    expect(() => stacks.createChangeSet({ stackName: 'Needs', changeSetName: 'c', type: 'CREATE', template: needs, templateBody: '{}', parameters: [] })).toThrow(/\[P\] must have values/);
  });
});

describe('an update of a deployment on the emulators', () => {
  it('keeps unchanged resources with their data, updates a changed queue in place, replaces a changed unnamed table, refuses a changed named one, deletes a removed one', async () => {
    const endpoints = localEndpoints();
    const clients = localClients();
    const tag = `u${Date.now().toString(36)}`;
    const v1: CfnTemplate = { Resources: { Kept: QUEUE({ QueueName: `${tag}-kept` }), Changed: QUEUE({ DelaySeconds: 0 }), Removed: QUEUE(), Table: TABLE('pk') } };
    const first = await deployTemplate({ template: v1, stackName: tag, endpoints, log: () => undefined });
    const keptUrl = first.resources.get('Kept')!.ref;
    const changedUrl = first.resources.get('Changed')!.ref;
    const removedUrl = first.resources.get('Removed')!.ref;
    const tableName = first.resources.get('Table')!.ref;
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: keptUrl, MessageBody: 'kept' }));
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: changedUrl, MessageBody: 'changed' }));

    const v2: CfnTemplate = { Resources: { Kept: QUEUE({ QueueName: `${tag}-kept` }), Changed: QUEUE({ DelaySeconds: 3 }), Added: QUEUE(), Table: TABLE('id') } };
    const second = await deployTemplate({ template: v2, stackName: tag, endpoints, previous: first, log: () => undefined });
    expect(second.changes).toEqual([
      { logicalId: 'Added', type: 'AWS::SQS::Queue', action: 'Add' },
      { logicalId: 'Changed', type: 'AWS::SQS::Queue', action: 'Modify', replacement: false },
      { logicalId: 'Table', type: 'AWS::DynamoDB::Table', action: 'Modify', replacement: true },
      { logicalId: 'Removed', type: 'AWS::SQS::Queue', action: 'Remove' },
    ]);
    // Unchanged and updated in place: the same queues, their messages kept; the new setting applied.
    expect(second.resources.get('Kept')!.ref).toBe(keptUrl);
    expect(second.resources.get('Changed')!.ref).toBe(changedUrl);
    const changed = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: changedUrl, AttributeNames: ['DelaySeconds', 'ApproximateNumberOfMessages'] }));
    expect(changed.Attributes).toMatchObject({ DelaySeconds: '3', ApproximateNumberOfMessages: '1' });
    const attrs = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: keptUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('1');
    // A new key schema cannot be applied to a table: a new table, the old one deleted by retire().
    expect(second.resources.get('Table')!.ref).not.toBe(tableName);
    expect(await second.retire()).toEqual([]);
    const left = (await clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: tag }))).QueueUrls ?? [];
    expect(left).not.toContain(removedUrl);
    expect(left).toContain(changedUrl);
    expect(left).toContain(keptUrl);
    const tables = (await clients.dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];
    expect(tables).not.toContain(tableName);
    expect(tables).toContain(second.resources.get('Table')!.ref);

    // A named table cannot be replaced next to itself: refused before anything is created.
    const v3: CfnTemplate = { Resources: { ...v2.Resources, Named: TABLE('pk', `${tag}-named`) } };
    const third = await deployTemplate({ template: v3, stackName: tag, endpoints, previous: second, log: () => undefined });
    const v4: CfnTemplate = { Resources: { ...v2.Resources, Named: TABLE('id', `${tag}-named`) } };
    await expect(deployTemplate({ template: v4, stackName: tag, endpoints, previous: third, log: () => undefined })).rejects.toThrow(/Named \(AWS::DynamoDB::Table\).*name "[^"]+-named" is written in the template/);
    await third.destroy();
    clients.destroy();
  });
});
