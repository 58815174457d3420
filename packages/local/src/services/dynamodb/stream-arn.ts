/**
 * DynamoDB Local writes its own region and account into stream ARNs
 * (`arn:aws:dynamodb:ddblocal:000000000000:table/T/stream/LABEL`) and refuses any other. The stack's
 * templates, policies and events name the stack's region and account, so the endpoint maps between the
 * two: requests are mapped to DynamoDB Local's form, answers (ARNs, shard iterators, awsRegion) back.
 * An external endpoint (moto) uses its own ARNs everywhere: nothing here matches them.
 */
export const DDB_LOCAL_REGION = 'ddblocal';
export const DDB_LOCAL_ACCOUNT = '000000000000';

const LOCAL_PREFIX = `arn:aws:dynamodb:${DDB_LOCAL_REGION}:${DDB_LOCAL_ACCOUNT}:`;

/** DynamoDB Local's ARN (or any text holding it) in the stack's region and account. */
export function fromDdbLocal(text: string, region: string, accountId: string): string {
  return text.split(LOCAL_PREFIX).join(`arn:aws:dynamodb:${region}:${accountId}:`).split(`"awsRegion":"${DDB_LOCAL_REGION}"`).join(`"awsRegion":"${region}"`);
}

/** The stack's table and stream ARNs (or text holding them) as DynamoDB Local knows them. */
export function toDdbLocal(text: string, region: string, accountId: string): string {
  return text.split(`arn:aws:dynamodb:${region}:${accountId}:table/`).join(`${LOCAL_PREFIX}table/`);
}

/** `arn:...:table/NAME/stream/LABEL` → NAME (undefined when not a stream ARN). */
export function streamTableName(streamArn: string): string | undefined {
  return /:table\/([^/]+)\/stream\//.exec(streamArn)?.[1];
}
