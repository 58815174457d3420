/**
 * Least privilege, checked locally (issue 15): for each statement of the image worker's identity policy,
 * the synthesized template is rebuilt without it and the real stack deployed from that variant. A job
 * then fails with AccessDenied for exactly the calls that statement granted (every refused call is one
 * the removed statement allows and the rest of the policy does not), is dead-lettered with class
 * AccessDenied, and a statement no call needs changes nothing. With every statement, nothing is refused.
 * The SQS event source polls with the worker's role (as Lambda does): without its sqs:ReceiveMessage grant
 * the job is never received and waits in the queue.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, readPolicies, type CfnTemplate } from '@floodgate/local';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import { peekDeadLetters } from '../../local/producer';
import { assemblyDir, deployIntegrationStack, sampleImage } from '../support/local-stack';

interface Statement { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown }
interface Refused { action: string; resource: string; code: string; message: string }

let base: string;
let templateFile: string;
let template: CfnTemplate;
let policyId: string;
let statements: Statement[];
const tmpDirs: string[] = [];

beforeAll(async () => {
  base = resolve(await assemblyDir());
  templateFile = readdirSync(base).find((f) => f.endsWith('.template.json'))!;
  template = JSON.parse(readFileSync(join(base, templateFile), 'utf8')) as CfnTemplate;
  const fnId = Object.keys(template.Resources).find((k) => k.startsWith('ImageWorkerFunction'))!;
  const roleId = (template.Resources[fnId]!.Properties!.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  policyId = Object.keys(template.Resources).find((k) => {
    const r = template.Resources[k]!;
    return r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles).includes(roleId);
  })!;
  statements = (template.Resources[policyId]!.Properties!.PolicyDocument as { Statement: Statement[] }).Statement;
}, 180_000);
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** The assembly with the worker policy's statement `drop` removed (assets symlinked, template rewritten). */
function variant(drop: number | undefined): string {
  if (drop === undefined) return base;
  const dir = mkdtempSync(join(tmpdir(), 'fg-grants-'));
  tmpDirs.push(dir);
  for (const f of readdirSync(base)) if (f !== templateFile) symlinkSync(join(base, f), join(dir, f));
  const t = structuredClone(template) as CfnTemplate & { Resources: Record<string, { Properties: { PolicyDocument: { Statement: Statement[] } } }> };
  t.Resources[policyId]!.Properties.PolicyDocument.Statement = statements.filter((_, i) => i !== drop);
  writeFileSync(join(dir, templateFile), JSON.stringify(t));
  return dir;
}

/** Runs one good job on the stack built from `variant(drop)`; returns the worker's refused calls and the outcome. */
async function runJob(drop: number | undefined) {
  const refused: Refused[] = [];
  const s = await deployIntegrationStack({
    assembly: variant(drop),
    onRefusal: (r) => {
      if (!r.principal.includes('assumed-role')) return;
      const m = /perform: (\S+) on resource: "?([^"\s]+)"?/.exec(r.error.message);
      refused.push({ action: m?.[1] ?? '?', resource: m?.[2] ?? '?', code: r.error.code, message: r.error.message });
    },
  });
  try {
    await s.fastRedelivery(2);
    const jobId = await s.submit('grant.jpg', await sampleImage('jpeg', 160, 120, 1));
    const dlqUrl = s.stack.outputs[STACK_OUTPUTS.deadLetterQueueUrl]!;
    const end = Date.now() + 60_000;
    let deadLetter: Record<string, string> | undefined;
    let status: string | undefined;
    while (Date.now() < end) {
      status = (await s.job(jobId))?.status;
      deadLetter = (await peekDeadLetters(s.clients, dlqUrl)).find((m) => m.body.includes(jobId))?.attributes;
      if (status === 'completed' || deadLetter !== undefined) break;
      // Lambda polls with the role: without sqs:ReceiveMessage the job is never received (nothing more to wait for).
      if (refused.filter((c) => /^sqs:ReceiveMessage$/i.test(c.action)).length >= 2) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    return { refused, status, deadLetter, physical: (id: string) => s.stack.deployment.resources.get(id), resolve: s.stack.deployment.resolve };
  } finally {
    await s.stop();
  }
}

describe('the image worker\'s grants, one at a time', () => {
  it('with every grant, the job completes and nothing is refused', async () => {
    const r = await runJob(undefined);
    expect(r.status, JSON.stringify(r.deadLetter)).toBe('completed');
    expect(r.refused).toEqual([]);
  }, 120_000);

  // The statements are read at run time; vitest needs the cases up front, so loop inside one test per index.
  for (let i = 0; i < 8; i++) {
    it(`without statement ${i} of the worker policy: AccessDenied for exactly the calls it granted`, async () => {
      if (i >= statements.length) return; // the policy has fewer statements (asserted below)
      const st = statements[i]!;
      const r = await runJob(i);
      if (process.env.GRANTS_DEBUG) console.log(i, JSON.stringify([st.Action].flat()), r.status, JSON.stringify(r.deadLetter), JSON.stringify(r.refused.map((c) => `${c.action} ${c.resource}`)));
      // Which refused calls the removed statement alone would allow: it must be every one of them.
      const onlyThis = readPolicies(
        { Resources: { R: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: [st] } }] } } } },
        r.resolve,
        r.physical,
      );
      const caller = { kind: 'role' as const, accessKeyId: 'x', functionName: 'f', roleLogicalId: 'R', roleName: 'r', roleArn: 'arn:aws:iam::000000000000:role/r', arn: 'arn:aws:sts::000000000000:assumed-role/r/f' };
      for (const c of r.refused) {
        expect(c.code, c.message).toMatch(/^AccessDenied/);
        const d = await evaluate(caller, { action: c.action, resource: c.resource }, { index: onlyThis, accountId: '000000000000', service: c.action.split(':')[0]! });
        expect(d.allowed, `${c.action} on ${c.resource} was refused but statement ${i} does not grant it`).toBe(true);
      }
      const actions = [st.Action].flat();
      const neededByAJob = actions.some((a) => /^(s3:GetObject|s3:PutObject|dynamodb:(UpdateItem|PutItem|GetItem))$/.test(a)) && !JSON.stringify(st.Resource).match(/IdempotencyTable|LockTable/);
      const pollerRefused = r.refused.some((c) => /^sqs:ReceiveMessage$/i.test(c.action));
      if (pollerRefused) {
        // As on AWS: the event source mapping polls with the execution role, so the job waits in the queue
        // (never received, never dead-lettered) rather than failing.
        expect(r.status).not.toBe('completed');
        expect(r.deadLetter).toBeUndefined();
      } else if (r.refused.length === 0) {
        expect(neededByAJob, `statement ${i} (${actions.join(',')}) is needed by every job, yet nothing was refused`).toBe(false);
        expect(r.status).toBe('completed');
      } else {
        expect(r.status).not.toBe('completed');
        expect(r.deadLetter, `no DLQ entry for the job without statement ${i}`).toMatchObject({ ErrorClass: 'AccessDenied', ErrorKind: 'permanent' });
        expect(r.deadLetter!.ErrorReason).toContain('is not authorized to perform');
      }
    }, 120_000);
  }

  it('the worker policy has the statements the cases above cover', () => {
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.length).toBeLessThanOrEqual(8);
  });
});
