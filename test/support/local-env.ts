/** Helpers for tests that talk to the emulators started by the global setup. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';

export function localEndpoints(): LocalEndpoints {
  return inject('endpoints');
}

export function localClients(endpoints: LocalEndpoints = localEndpoints()) {
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  return {
    dynamodb: new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }),
    s3: new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true }),
    sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
  };
}
