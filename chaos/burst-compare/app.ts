#!/usr/bin/env node
/**
 * The comparison's CDK app: the same orders workload three ways, one stack each. `floodgate` is the
 * example's own OrdersStack (examples/orders-postgres), unchanged; the other two are baseline-stack.ts.
 * The database URL is a placeholder: the comparison run sets ORDERS_DATABASE_URL per run.
 */
import { App } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OrdersStack } from '../../examples/orders-postgres/lib/orders-stack';
import { BaselineStack, SEED_SNIPPET } from './baseline-stack';
import { COMPARE_STACKS } from './stacks';

const app = new App();
const architecture = app.node.tryGetContext('floodgate:architecture') === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64;
const databaseUrl = 'postgres://orders@127.0.0.1:5432/orders';
new BaselineStack(app, COMPARE_STACKS.unbounded, { databaseUrl, architecture });
new BaselineStack(app, COMPARE_STACKS.seedSnippet, { databaseUrl, architecture, caps: { reservedConcurrency: SEED_SNIPPET.reservedConcurrency, maxConcurrency: SEED_SNIPPET.maxConcurrency } });
new OrdersStack(app, COMPARE_STACKS.floodgate, { databaseUrl, architecture });
app.synth();
