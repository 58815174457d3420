/**
 * AWS::Lambda::Function: not created anywhere; run by the local Lambda host from the bundled asset in
 * the cloud assembly (inline ZipFile code is written to a temp dir as index.js, as Lambda names it), or,
 * for a template deployed through the CloudFormation API, from the .zip its Code names in S3.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { functionAssetDir } from '../../core/deployment/assembly.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { num, str } from '../../core/deployment/values.js';
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import { codeFromS3 } from './code-asset.js';

export const lambdaFunction: Provisioner = {
  handles: ['AWS::Lambda::Function'],
  kind: 'run',
  async provision({ logicalId, resource, props, assemblyDir, arn, name, clients }) {
    const functionName = name(props.FunctionName, { max: 64 });
    const env = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const code = props.Code as { ZipFile?: unknown; S3Bucket?: unknown; S3Key?: unknown; S3ObjectVersion?: unknown; ImageUri?: unknown } | undefined;
    let assetDir: string;
    if (typeof code?.ZipFile === 'string') {
      assetDir = mkdtempSync(join(tmpdir(), `floodgate-inline-${logicalId}-`));
      writeFileSync(join(assetDir, 'index.js'), code.ZipFile);
    } else if (assemblyDir !== undefined) assetDir = functionAssetDir(assemblyDir, logicalId, resource);
    else if (typeof code?.S3Bucket === 'string' && typeof code.S3Key === 'string') assetDir = await codeFromS3(clients.s3, code.S3Bucket, code.S3Key, str(code.S3ObjectVersion));
    else throw new UnsupportedResourceError(`${logicalId} (AWS::Lambda::Function): ${code?.ImageUri !== undefined ? 'container image functions (Code.ImageUri) are not run by the local Lambda host' : 'its Code names neither ZipFile nor S3Bucket/S3Key'}`);
    const reserved = num(props.ReservedConcurrentExecutions, `${logicalId}.ReservedConcurrentExecutions`);
    const role = str(props.Role);
    const logging = props.LoggingConfig as { LogGroup?: unknown; LogFormat?: unknown } | undefined;
    const logGroupName = str(logging?.LogGroup);
    const logFormat = logging?.LogFormat === 'JSON' ? ('JSON' as const) : undefined;
    const dlq = str((props.DeadLetterConfig as { TargetArn?: unknown } | undefined)?.TargetArn);
    return {
      physical: { type: resource.Type, ref: functionName, attributes: { Arn: arn('lambda', `function:${functionName}`) } },
      function: {
        logicalId,
        functionName,
        assetDir,
        handler: str(props.Handler) ?? 'index.handler',
        runtime: str(props.Runtime) ?? 'nodejs24.x',
        timeoutSeconds: num(props.Timeout, `${logicalId}.Timeout`) ?? 3,
        memoryMb: num(props.MemorySize, `${logicalId}.MemorySize`) ?? 128,
        environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
        architectures: (props.Architectures as string[] | undefined) ?? ['x86_64'],
        ...(reserved !== undefined ? { reservedConcurrency: reserved } : {}),
        ...(role !== undefined ? { roleArn: role } : {}),
        ...(logGroupName !== undefined ? { logGroupName } : {}),
        ...(logFormat ? { logFormat } : {}),
        ...(dlq ? { deadLetterTargetArn: dlq } : {}),
      },
    };
  },
};
