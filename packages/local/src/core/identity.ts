/**
 * Who the local stack is: its account, its region and the admin credentials it accepts. A leaf module
 * (imports nothing), so the gateway, the provisioners and the Lambda host can all read it without
 * depending on each other.
 */

/** The account id in every ARN the local stack makes. */
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';
/** The local admin: what the user's CLI and tests sign with (unrestricted). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
