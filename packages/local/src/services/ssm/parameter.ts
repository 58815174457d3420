/**
 * AWS::SSM::Parameter: put in the endpoint's Parameter Store (services/ssm/store.ts) through the SSM
 * API, so the deployed stacks and the CDK CLI read it (the bootstrap stack's CdkBootstrapVersion).
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { str } from '../../core/deployment/values.js';
import { LOCAL_CREDENTIALS } from '../../core/identity.js';
import { signedPost } from '../events/deliver.js';

async function call(endpoint: string, region: string, op: string, body: Record<string, unknown>): Promise<void> {
  const res = await signedPost(endpoint, region, LOCAL_CREDENTIALS, 'ssm', '/', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonSSM.${op}` }, JSON.stringify(body));
  if (res.status >= 300) throw new Error(`SSM ${op} ${String(body.Name)}: ${res.status} ${await res.text()}`);
}

export const ssmParameter: Provisioner = {
  handles: ['AWS::SSM::Parameter'],
  kind: 'created',
  // PutParameter with Overwrite: a changed value is a new version of the same parameter.
  updatesInPlace: true,
  async provision({ props, region, endpoint, name, arn }) {
    const Name = name(props.Name, { max: 2048 });
    const type = str(props.Type) ?? 'String';
    await call(endpoint, region, 'PutParameter', { Name, Value: str(props.Value) ?? '', Type: type, Overwrite: true, ...(props.Description !== undefined ? { Description: str(props.Description) } : {}) });
    return {
      physical: { type: 'AWS::SSM::Parameter', ref: Name, attributes: { Type: type, Value: str(props.Value) ?? '', Arn: arn('ssm', `parameter${Name.startsWith('/') ? '' : '/'}${Name}`) } },
      destroy: () => call(endpoint, region, 'DeleteParameter', { Name }),
    };
  },
};
