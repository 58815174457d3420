/**
 * The provisioner registry: every resource type the local deployer knows, one file each in its
 * service folder. A template with a type no provisioner handles is refused before anything is created
 * (support.ts); `notEmulated` (types that move no message) comes last.
 */
import { apiFront } from './apigateway/resources.js';
import { customResource } from './cloudformation/custom-resource.js';
import { dynamodbTable } from './dynamodb/table.js';
import { eventBus } from './events/bus.js';
import { eventRule } from './events/rule.js';
import { eventSourceMapping } from './lambda/event-source-mapping.js';
import { eventInvokeConfig } from './lambda/event-invoke-config.js';
import { iam } from './iam/role-and-policy.js';
import { ecrRepository } from './ecr/repository.js';
import { ssmParameter } from './ssm/parameter.js';
import { lambdaFunction } from './lambda/function.js';
import { notEmulated } from './not-emulated.js';
import { s3Bucket } from './s3/bucket.js';
import { s3BucketPolicy } from './s3/bucket-policy.js';
import { s3BucketNotifications } from './s3/bucket-notifications.js';
import { snsSubscription } from './sns/subscription.js';
import { snsTopic } from './sns/topic.js';
import { snsTopicPolicy } from './sns/topic-policy.js';
import { schedulerSchedule } from './scheduler/schedule.js';
import { sqsQueue } from './sqs/queue.js';
import { sqsQueuePolicy } from './sqs/queue-policy.js';
import type { Provisioner } from '../core/deployment/provisioner.js';
import { provisionerFor as findProvisioner } from './support.js';

// Order matters: the first that handles a type wins. `customResource` takes any Custom::* that no native
// provisioner before it handles (keep native Custom::... provisioners above it).
export const PROVISIONERS: readonly Provisioner[] = [sqsQueue, sqsQueuePolicy, s3Bucket, s3BucketPolicy, s3BucketNotifications, snsTopic, snsSubscription, snsTopicPolicy, dynamodbTable, lambdaFunction, eventSourceMapping, eventInvokeConfig, iam, apiFront, eventBus, eventRule, schedulerSchedule, ssmParameter, ecrRepository, customResource, notEmulated];

export function provisionerFor(type: string, provisioners: readonly Provisioner[] = PROVISIONERS): Provisioner | undefined {
  return findProvisioner(type, provisioners);
}

export * from '../core/deployment/provisioner.js';
export { NOT_EMULATED } from './not-emulated.js';
export { consequenceOf, describeUnsupported, unsupportedResources, type Unsupported } from './support.js';
export { generatedName, randomTail, resourceName, type NameRules } from '../core/deployment/values.js';
