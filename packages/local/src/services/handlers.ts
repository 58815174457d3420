/**
 * The services served on the gateway, in routing order for unsigned requests (S3 is the fallback).
 * Adding a service: one file here exporting a GatewayServiceFactory, and one entry in this list.
 */
import type { GatewayServiceFactory } from '../gateway/types.js';
import { consoleService } from '../console/service.js';
import { controlService } from '../gateway/control.js';
import { cloudformationService } from './cloudformation/handler.js';
import { eventsService } from './events/handler.js';
import { dynamodbService } from './dynamodb/handler.js';
import { lambdaService } from './lambda/handler.js';
import { logsService } from './logs/handler.js';
import { s3Service } from './s3/handler.js';
import { snsService } from './sns/handler.js';
import { sqsService } from './sqs/handler.js';
import { stsService } from './sts/handler.js';

// The console (and the health route) first: it claims only its own unsigned paths, which would otherwise fall to S3.
export const SERVICES: readonly GatewayServiceFactory[] = [consoleService, controlService, dynamodbService, lambdaService, logsService, cloudformationService, stsService, sqsService, snsService, eventsService, s3Service];
