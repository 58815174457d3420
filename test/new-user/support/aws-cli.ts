/**
 * The AWS CLI against the local stack, as a user would call it: `aws --endpoint-url URL ...` with dummy
 * credentials (AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS, hence the flag on every call).
 */
import { run } from './project.js';

export interface AwsCli {
  /** Runs `aws --endpoint-url URL <args> --output json` and parses the output (undefined when empty). */
  json<T>(args: readonly string[]): Promise<T>;
  /** Runs `aws --endpoint-url URL <args>` and gives its plain output (`aws s3 cp` prints text). */
  text(args: readonly string[]): Promise<string>;
}

export function awsCli(endpoint: string, baseEnv: NodeJS.ProcessEnv, cwd: string): AwsCli {
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    // Nothing of the machine's own AWS configuration may leak in.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  return {
    async json<T>(args: readonly string[]): Promise<T> {
      const { stdout } = await run('aws', ['--endpoint-url', endpoint, ...args, '--output', 'json'], { cwd, env, timeoutMs: 60_000 });
      return (stdout.trim() === '' ? undefined : JSON.parse(stdout)) as T;
    },
    async text(args: readonly string[]): Promise<string> {
      return (await run('aws', ['--endpoint-url', endpoint, ...args], { cwd, env, timeoutMs: 60_000 })).stdout;
    },
  };
}
