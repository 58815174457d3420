/**
 * The services served on the gateway, in routing order for unsigned requests (S3 is the fallback).
 * Adding a service: one file here exporting a GatewayServiceFactory, and one entry in this list.
 */
import type { GatewayServiceFactory } from '../types.js';
import { dynamodbService } from './dynamodb.js';
import { s3Service } from './s3.js';
import { sqsService } from './sqs.js';

export const SERVICES: readonly GatewayServiceFactory[] = [dynamodbService, sqsService, s3Service];
