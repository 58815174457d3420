/**
 * A stream mapping's DestinationConfig.OnFailure: the failure record goes to an SQS queue (SendMessage)
 * or an SNS topic (Publish) of the stack, through the endpoint with the stack's admin credentials.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { LocalClients } from '../../core/clients.js';
import type { DeployedStreamEventSourceMapping } from '../../core/deployment/provisioner.js';

export function onFailureSender(destination: NonNullable<DeployedStreamEventSourceMapping['onFailure']>, clients: Pick<LocalClients, 'sqs' | 'sns'>): (body: string) => Promise<void> {
  if (destination.kind === 'sqs') {
    const queueUrl = destination.queueUrl!;
    return async (body) => void (await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })));
  }
  return async (body) => void (await clients.sns.send(new PublishCommand({ TopicArn: destination.arn, Message: body })));
}
