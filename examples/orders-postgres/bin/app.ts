#!/usr/bin/env node
/**
 * `npx cdk synth` in this folder. Context: `databaseUrl` (the handler's ORDERS_DATABASE_URL) and
 * `floodgate:architecture` (arm64 | x86_64; @floodgate/local sets the host's).
 */
import { App } from 'aws-cdk-lib';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { OrdersStack } from '../lib/orders-stack.js';

const app = new App();
const arch = app.node.tryGetContext('floodgate:architecture') as string | undefined;
new OrdersStack(app, 'FloodgateOrdersPostgres', {
  description: 'Floodgate example: orders from SQS into PostgreSQL within a 100-connection budget',
  databaseUrl: (app.node.tryGetContext('databaseUrl') as string | undefined) ?? 'postgres://orders@localhost:5432/orders',
  architecture: arch === 'x86_64' ? Architecture.X86_64 : Architecture.ARM_64,
});
app.synth();
