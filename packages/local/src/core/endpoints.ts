/** Where a local stack listens, and the environment that points the AWS SDK and CLI at it. */
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './identity.js';

/** Where the local stack listens; everything a client needs to point the AWS SDK at it. */
export interface LocalEndpoints {
  /** The one endpoint serving every service (the gateway): the value for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  /** Per-service URLs (equal to `endpoint` behind the gateway; kept for per-service configuration). */
  readonly sqs: string;
  readonly s3: string;
  readonly dynamodb: string;
  readonly region: string;
  /**
   * The emulators themselves, behind the gateway. A local stack started on these endpoints forwards
   * to them directly from its own gateway (one hop, not two). Absent for an external endpoint.
   */
  readonly backends?: { readonly sqs: string; readonly s3: string; readonly dynamodb: string };
}

/** Endpoints where one URL serves everything (an external AWS-compatible endpoint such as moto). */
export function singleEndpoint(url: string, region: string = LOCAL_REGION): LocalEndpoints {
  const endpoint = url.replace(/\/+$/, '');
  return { endpoint, sqs: endpoint, s3: endpoint, dynamodb: endpoint, region };
}

/**
 * Environment variables that point the AWS SDK v3 (and the AWS CLI, except for SQS in CLI v1) at the
 * local stack: AWS_ENDPOINT_URL, the region and the local credentials. Per-service variables only where
 * a service is served elsewhere than the one endpoint.
 */
export function endpointEnv(endpoints: LocalEndpoints): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: endpoints.endpoint,
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  if (endpoints.sqs !== endpoints.endpoint) env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
  if (endpoints.s3 !== endpoints.endpoint) env.AWS_ENDPOINT_URL_S3 = endpoints.s3;
  if (endpoints.dynamodb !== endpoints.endpoint) env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
  return env;
}
