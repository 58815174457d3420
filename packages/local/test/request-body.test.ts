/** readRequestBody: the one reader of incoming request bodies (gateway, API front, chaos proxy). */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readRequestBody } from '../src/core/request-body.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Sends `chunks` to a server that reads the body with `read` and answers what it got. */
async function roundTrip(chunks: Buffer[], read: (req: import('node:http').IncomingMessage) => Promise<Buffer | null>): Promise<Buffer | null> {
  let got!: Promise<Buffer | null>;
  server = createServer((req, res) => {
    got = read(req);
    void got.then(() => res.end('ok'), () => res.end('error'));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    const req = request({ port, method: 'POST', path: '/' }, (res) => res.resume().on('end', resolve));
    req.on('error', () => resolve()); // the server may destroy the request mid-body
    for (const c of chunks) req.write(c);
    req.end();
  });
  return got;
}

describe('readRequestBody', () => {
  it('returns every chunk of the body, in order', async () => {
    const body = await roundTrip([Buffer.from('hello '), Buffer.from('world')], (req) => readRequestBody(req));
    expect(body?.toString()).toBe('hello world');
  });

  it('returns null once the body passes maxBytes', async () => {
    expect(await roundTrip([Buffer.alloc(10), Buffer.alloc(10)], (req) => readRequestBody(req, 15))).toBeNull();
    expect((await roundTrip([Buffer.alloc(10)], (req) => readRequestBody(req, 15)))?.length).toBe(10);
  });
});
