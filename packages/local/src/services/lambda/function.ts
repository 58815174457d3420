/**
 * AWS::Lambda::Function: not created anywhere; run by the local Lambda host from the bundled asset in
 * the cloud assembly (inline ZipFile code is written to a temp dir as index.js, as Lambda names it).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { functionAssetDir } from '../../core/deployment/assembly.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { num, str } from '../../core/deployment/values.js';

export const lambdaFunction: Provisioner = {
  handles: ['AWS::Lambda::Function'],
  kind: 'run',
  async provision({ logicalId, resource, props, assemblyDir, arn, name }) {
    const functionName = name(props.FunctionName, { max: 64 });
    const env = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const code = props.Code as { ZipFile?: unknown } | undefined;
    let assetDir: string;
    if (typeof code?.ZipFile === 'string') {
      assetDir = mkdtempSync(join(tmpdir(), `floodgate-inline-${logicalId}-`));
      writeFileSync(join(assetDir, 'index.js'), code.ZipFile);
    } else assetDir = functionAssetDir(assemblyDir, logicalId, resource);
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
