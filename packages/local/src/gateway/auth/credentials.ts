/**
 * Who may sign requests to the local endpoint: the local admin (`test`/`test`, LOCAL_CREDENTIALS: the
 * user's CLI and tests, unrestricted) and one credential pair per function, issued when its execution
 * environment is started and mapped to the function's execution role, as Lambda hands each function its
 * role's temporary credentials. Secrets are random per store (per local stack), so a credential from
 * another run is unknown here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';
import type { Credentials } from './sigv4.js';

export type LocalPrincipal =
  | { readonly kind: 'admin'; readonly accessKeyId: string; readonly arn: string }
  | {
      readonly kind: 'role';
      readonly accessKeyId: string;
      /** The function whose environment holds this credential (the STS session name). */
      readonly functionName: string;
      /** The execution role's logical id in the template (its policies are looked up by it). */
      readonly roleLogicalId: string;
      readonly roleName: string;
      /** arn:aws:iam::ACCOUNT:role/NAME */
      readonly roleArn: string;
      /** arn:aws:sts::ACCOUNT:assumed-role/NAME/FUNCTION: the principal AWS names in AccessDenied messages. */
      readonly arn: string;
    };

export interface FunctionIdentity {
  readonly functionName: string;
  readonly roleLogicalId: string;
  readonly roleName: string;
  readonly accountId?: string;
}

export class CredentialStore {
  private readonly byKey = new Map<string, { credentials: Credentials; principal: LocalPrincipal }>();
  private readonly salt = randomBytes(16);

  constructor(admin: Credentials, accountId = LOCAL_ACCOUNT_ID) {
    this.byKey.set(admin.accessKeyId, { credentials: admin, principal: { kind: 'admin', accessKeyId: admin.accessKeyId, arn: `arn:aws:iam::${accountId}:root` } });
  }

  /** The credential pair for a function's environments (the same for every environment of one function). */
  issueForFunction(identity: FunctionIdentity): Credentials {
    const digest = createHash('sha256').update(this.salt).update(identity.functionName).digest();
    // ASIA...: the prefix of temporary (STS) access keys, which is what a Lambda function holds.
    const accessKeyId = `ASIA${digest.subarray(0, 10).toString('hex').toUpperCase().slice(0, 16)}`;
    const existing = this.byKey.get(accessKeyId);
    if (existing) return existing.credentials;
    const credentials = { accessKeyId, secretAccessKey: randomBytes(30).toString('base64url') };
    const account = identity.accountId ?? LOCAL_ACCOUNT_ID;
    this.byKey.set(accessKeyId, {
      credentials,
      principal: {
        kind: 'role',
        accessKeyId,
        functionName: identity.functionName,
        roleLogicalId: identity.roleLogicalId,
        roleName: identity.roleName,
        roleArn: `arn:aws:iam::${account}:role/${identity.roleName}`,
        arn: `arn:aws:sts::${account}:assumed-role/${identity.roleName}/${identity.functionName}`,
      },
    });
    return credentials;
  }

  lookup(accessKeyId: string): Credentials | undefined {
    return this.byKey.get(accessKeyId)?.credentials;
  }

  principal(accessKeyId: string): LocalPrincipal | undefined {
    return this.byKey.get(accessKeyId)?.principal;
  }
}
