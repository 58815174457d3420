/** AWS error bodies in each protocol the gateway speaks, so SDK clients parse our refusals as theirs. */
import type { ServerResponse } from 'node:http';
import type { GatewayError } from './types.js';

/** Text for an XML element or attribute value. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function write(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** S3 and other REST-XML services. */
export function xmlError(res: ServerResponse, err: GatewayError): void {
  write(res, err.status, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error>`);
}

/** The query protocol (SQS query, CloudFormation). */
export function queryError(res: ServerResponse, err: GatewayError): void {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  write(
    res,
    err.status,
    { 'content-type': 'text/xml' },
    `<?xml version="1.0"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
  );
}

/** The JSON protocols (awsJson1_0 / 1_1): DynamoDB, SQS JSON, Lambda's REST-JSON. */
export function jsonError(res: ServerResponse, err: GatewayError, namespace: string, extraHeaders: Record<string, string> = {}): void {
  write(res, err.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': err.code, ...extraHeaders }, JSON.stringify({ __type: `${namespace}#${err.code}`, message: err.message }));
}
