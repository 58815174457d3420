#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib/core';
import { OrdersStack } from '../lib/orders-stack.js';

const app = new cdk.App();
new OrdersStack(app, 'OrdersEsmStack');
