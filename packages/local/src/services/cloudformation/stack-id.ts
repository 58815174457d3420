/** The local stack's StackId (DescribeStacks and custom resource requests agree on it). */
import { createHash } from 'node:crypto';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';

export function stackId(region: string, stackName: string, prefix: string): string {
  const h = createHash('sha256').update(`${stackName}/${prefix}`).digest('hex');
  return `arn:aws:cloudformation:${region}:${LOCAL_ACCOUNT_ID}:stack/${stackName}/${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
