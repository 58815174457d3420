/**
 * AWS::Lambda::EventInvokeConfig: not created anywhere; it configures the function's asynchronous event
 * queue (async-invoke.ts) and its destinations (async-destinations.ts). Validated here, at deploy time,
 * as Lambda validates it (MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds 60-21600, destination
 * ARNs of SQS, SNS, Lambda or EventBridge). Versions and aliases are not emulated (every invocation runs
 * $LATEST), so a configuration on a qualifier applies to the function; two for one function are refused.
 */
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { str } from '../../core/deployment/values.js';
import { parseEventInvokeConfig } from './async-invoke-config.js';

export const EVENT_INVOKE_CONFIG_TYPE = 'AWS::Lambda::EventInvokeConfig';

export const eventInvokeConfig: Provisioner = {
  handles: [EVENT_INVOKE_CONFIG_TYPE],
  kind: 'run',
  async provision({ logicalId, resource, props, resources, log }) {
    const fnRef = str(props.FunctionName) ?? '';
    const name = fnRef.startsWith('arn:') ? (fnRef.split(':')[6] ?? '') : fnRef;
    const fn = [...resources.entries()].find(([, p]) => p.type === 'AWS::Lambda::Function' && (p.ref === name || p.attributes.Arn === fnRef));
    if (!fn) throw new UnsupportedResourceError(`${logicalId}: function ${fnRef || '(none)'} is not a function of this stack`);
    const qualifier = str(props.Qualifier) ?? '$LATEST';
    try {
      parseEventInvokeConfig(props, logicalId);
    } catch (err) {
      throw new UnsupportedResourceError((err as Error).message);
    }
    if (qualifier !== '$LATEST') log(`lambda: ${logicalId}: Qualifier ${qualifier}: versions and aliases are not emulated, this configuration applies to ${fn[1].ref}`);
    return {
      physical: { type: resource.Type, ref: `${fn[1].ref}:${qualifier}`, attributes: {} },
      recorded: { logicalId, type: resource.Type, properties: { ...props, FunctionLogicalId: fn[0] } },
    };
  },
};
