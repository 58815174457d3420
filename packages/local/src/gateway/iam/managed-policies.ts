/**
 * The AWS-managed policies the local IAM evaluation knows, by ARN (their documents as AWS publishes
 * them, trimmed to the actions that matter to a local stack). A role that attaches a managed policy not
 * listed here gets nothing from it locally, and the stack says so at start (policies.ts `warnings`).
 */
type PolicyDocument = { Version: string; Statement: unknown[] };

const doc = (...Statement: unknown[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
const LOGS = { Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' };

export const AWS_MANAGED_POLICIES: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': doc(LOGS),
  'service-role/AWSLambdaSQSQueueExecutionRole': doc({ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: '*' }, LOGS),
  'service-role/AWSLambdaDynamoDBExecutionRole': doc(
    { Effect: 'Allow', Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'], Resource: '*' },
    LOGS,
  ),
  'service-role/AWSLambdaVPCAccessExecutionRole': doc(
    { Effect: 'Allow', Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'], Resource: '*' },
    LOGS,
  ),
  AWSXRayDaemonWriteAccess: doc({ Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'], Resource: '*' }),
  'CloudWatchLambdaInsightsExecutionRolePolicy': doc({ Effect: 'Allow', Action: 'logs:CreateLogGroup', Resource: '*' }, { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: 'arn:aws:logs:*:*:log-group:/aws/lambda-insights:*' }),
  AmazonS3ReadOnlyAccess: doc({ Effect: 'Allow', Action: ['s3:Get*', 's3:List*', 's3:Describe*', 's3-object-lambda:Get*', 's3-object-lambda:List*'], Resource: '*' }),
  AmazonS3FullAccess: doc({ Effect: 'Allow', Action: ['s3:*', 's3-object-lambda:*'], Resource: '*' }),
  AmazonSQSFullAccess: doc({ Effect: 'Allow', Action: ['sqs:*'], Resource: '*' }),
  AmazonSQSReadOnlyAccess: doc({ Effect: 'Allow', Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ListDeadLetterSourceQueues', 'sqs:ListQueues', 'sqs:ListMessageMoveTasks', 'sqs:ListQueueTags'], Resource: '*' }),
  AmazonDynamoDBFullAccess: doc({ Effect: 'Allow', Action: ['dynamodb:*'], Resource: '*' }),
  AmazonDynamoDBReadOnlyAccess: doc({ Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:Describe*', 'dynamodb:List*', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:PartiQLSelect'], Resource: '*' }),
  AdministratorAccess: doc({ Effect: 'Allow', Action: '*', Resource: '*' }),
};

/** The managed policy document for `arn:aws:iam::aws:policy/<path+name>`, if known. */
export function awsManagedPolicy(arn: string): PolicyDocument | undefined {
  const m = /^arn:aws[\w-]*:iam::aws:policy\/(.+)$/.exec(arn);
  return m ? AWS_MANAGED_POLICIES[m[1]!] : undefined;
}
