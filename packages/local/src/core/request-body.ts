/** The whole body of an incoming HTTP request: the one reader the gateway, the API front and tools share. */
import type { IncomingMessage } from 'node:http';

/**
 * Resolves with the request's body. With `maxBytes`, resolves `null` as soon as the body passes it and
 * destroys the request (nothing more is buffered).
 */
export function readRequestBody(req: IncomingMessage): Promise<Buffer>;
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null>;
export function readRequestBody(req: IncomingMessage, maxBytes = Infinity): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
