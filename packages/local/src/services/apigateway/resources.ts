/** HTTP API resources and Lambda permissions: served by the local API front (api/), nothing to create. */
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { randomTail } from '../../core/deployment/values.js';

export const apiFront: Provisioner = {
  handles: (type) => type.startsWith('AWS::ApiGatewayV2::') || type === 'AWS::Lambda::Permission',
  kind: 'served-by-api-front',
  async provision({ resource, props, arn }) {
    const explicit = [props.Name, props.StageName].find((v) => typeof v === 'string') as string | undefined;
    // API Gateway ids are 10 lower-case characters.
    const name = explicit ?? randomTail(true).slice(0, 10);
    return { physical: { type: resource.Type, ref: name, attributes: { Arn: arn('apigateway', name), ApiId: name, ApiEndpoint: `https://${name}.execute-api.local` } } };
  },
};
