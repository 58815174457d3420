/** The one deployment model: read once, one set of defaults, and every consumer sees the same resources. */
import { describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../src/core/deployment/assembly';
import { deploymentModel } from '../src/core/deployment/model';
import { readPolicies } from '../src/gateway/iam/policies';

const template: CfnTemplate = {
  Parameters: { Env: { Type: 'String', Default: 'dev' } },
  Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } },
  Resources: {
    Role: { Type: 'AWS::IAM::Role', Properties: {} },
    Always: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*' }] } } },
    ProdOnly: { Type: 'AWS::IAM::Policy', Condition: 'IsProd', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } } },
  },
};

describe('deployment model', () => {
  it('is read once per template and stack, with parameter defaults and conditions applied', () => {
    const opts = { stackName: 'S', region: 'us-east-1', accountId: '000000000000' };
    const m = deploymentModel(template, opts);
    expect(deploymentModel(template, opts)).toBe(m);
    expect(m.parameters).toEqual({ Env: 'dev' });
    expect(m.condition('IsProd')).toBe(false);
    expect(m.resources.map((r) => r.logicalId)).toEqual(['Role', 'Always']);
    expect(m.excluded).toEqual(['ProdOnly']);
    expect(m.ofType('AWS::IAM::Policy').map((r) => r.logicalId)).toEqual(['Always']);
  });

  it('the IAM policy index reads the model: a policy a Condition leaves out grants nothing', () => {
    const index = readPolicies(template, (v) => v, () => undefined);
    expect(index.rolePolicies.get('Role')!.map((p) => p.name)).toEqual(['Always']);
  });
});
