/**
 * AWS::Events::EventBus: a custom bus, run by the local stack's EventBridge (services/events/bus-runtime.ts).
 * Every account also has the `default` bus, which exists without a resource. Ref is the bus name, as in
 * CloudFormation; Arn is `arn:aws:events:<region>:<account>:event-bus/<name>`.
 */
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const eventBus: Provisioner = {
  handles: ['AWS::Events::EventBus'],
  kind: 'run',
  async provision({ logicalId, props, arn, name: nameOf }) {
    if (props.EventSourceName !== undefined) throw new UnsupportedResourceError(`AWS::Events::EventBus (${logicalId}): partner event buses (EventSourceName) are not emulated by the local stack`);
    const name = nameOf(props.Name, { max: 256 });
    if (name === 'default') throw new Error(`AWS::Events::EventBus (${logicalId}): "default" is the account's own bus and cannot be created`);
    const Arn = arn('events', `event-bus/${name}`);
    return {
      physical: { type: 'AWS::Events::EventBus', ref: name, attributes: { Arn, Name: name } },
      recorded: { logicalId, type: 'AWS::Events::EventBus', properties: { ...props, Name: name, Arn } },
    };
  },
};
