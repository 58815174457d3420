#!/usr/bin/env node
// Our own event-driven app (issues 19 and 21), as a user writes one: four stacks.
//   EventApps  SNS, S3 notifications, EventBridge, a DynamoDB stream mapping, asynchronous invocation
//   Greeter    a Lambda-backed custom resource; `-c greeting=NAME` changes its properties
//   GreeterFails  the same, whose handler answers FAILED
//   Schedules  a scheduled rule and an EventBridge Scheduler schedule, fired from a test
import { App } from 'aws-cdk-lib';
import { EventAppsStack } from '../lib/event-apps-stack';
import { GreeterStack } from '../lib/greeter-stack';
import { SchedulesStack } from '../lib/schedules-stack';

const app = new App();
new EventAppsStack(app, 'EventApps');
new GreeterStack(app, 'Greeter', { greeting: String(app.node.tryGetContext('greeting') ?? 'world') });
new GreeterStack(app, 'GreeterFails', { greeting: 'nobody', fail: true });
new SchedulesStack(app, 'Schedules');
