/** AWS SDK v3 clients pointed at a local stack's endpoint (what a test uses to talk to its stack). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { LocalEndpoints } from './endpoints.js';
import { LOCAL_CREDENTIALS } from './identity.js';

export interface LocalClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** SNS on the one endpoint. */
  readonly sns: SNSClient;
  /** Closes the clients' sockets. */
  destroy(): void;
}

export function localClients(endpoints: LocalEndpoints): LocalClients {
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  // Path-style: the endpoint is an IP address, where virtual-hosted-style names cannot resolve.
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const sns = new SNSClient({ ...common, endpoint: endpoints.endpoint });
  return {
    sqs,
    s3,
    dynamodb,
    sns,
    destroy() {
      sns.destroy();
      sqs.destroy();
      s3.destroy();
      dynamodb.destroy();
    },
  };
}
