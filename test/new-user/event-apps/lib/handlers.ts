import { join } from 'path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** A function of ../handlers (plain JavaScript, not bundled). */
export function handlerFunction(scope: Construct, id: string, handler: string, props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler,
    code: lambda.Code.fromAsset(join(__dirname, '..', 'handlers')),
    timeout: Duration.seconds(10),
    ...props,
  });
}
