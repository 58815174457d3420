import { App, CfnOutput, CustomResource, Stack, StackProps } from 'aws-cdk-lib';
import { handlerFunction } from './handlers';

export interface GreeterStackProps extends StackProps {
  /** The custom resource's Name property (a change is an Update). */
  readonly greeting: string;
  /** Its handler answers FAILED with a Reason. @default false */
  readonly fail?: boolean;
}

/** A Custom::Greeter whose ServiceToken is a plain Lambda function answering on the ResponseURL. */
export class GreeterStack extends Stack {
  constructor(scope: App, id: string, props: GreeterStackProps) {
    super(scope, id, props);
    const fn = handlerFunction(this, 'GreeterFn', 'greeter.handler');
    const greeter = new CustomResource(this, 'Greeter', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::Greeter',
      properties: { Name: props.greeting, Fail: props.fail ? 'yes' : 'no' },
    });
    new CfnOutput(this, 'Greeting', { value: greeter.getAttString('Greeting') });
    new CfnOutput(this, 'GreeterId', { value: greeter.ref });
  }
}
