/**
 * Who may use the console (`/_floodgate/`) and the health check (`/_localstack/health`): pure decisions
 * over the socket's address and the request headers, unit-tested.
 *
 * The console is loopback only, not behind SigV4 like the rest of the endpoint: a browser cannot sign,
 * and the local admin's credentials (test/test) are no secret, so any process on this machine can already
 * do whatever the console does. What must not happen is that another machine, or a web page the user
 * visits, drives it:
 * - the TCP peer must be a loopback address (the endpoint listens on loopback; this holds even if it is
 *   bound wider);
 * - the Host header must name loopback (localhost, 127.0.0.0/8, [::1]): a DNS-rebinding page reaches
 *   127.0.0.1 under its own host name, and is refused here;
 * - an Origin header, when sent, must be this same origin;
 * - a change (POST) needs the `x-floodgate-console` header: a cross-origin page cannot add it without a
 *   CORS preflight, which the console never grants.
 */
import type { GatewayError } from '../gateway/types.js';

/** The header every console change carries (the page's script sets it). */
export const CONSOLE_HEADER = 'x-floodgate-console';

export interface AccessRequest {
  readonly method: string;
  /** The TCP peer (`req.socket.remoteAddress`). */
  readonly remoteAddress: string | undefined;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
}

const forbidden = (message: string): GatewayError => ({ status: 403, code: 'AccessDenied', message });

/** 127.0.0.0/8, ::1, and their IPv4-mapped IPv6 forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** The host of a Host header value (`localhost:4566`, `[::1]:4566`, `127.0.0.1`), without the port. */
function hostOf(hostHeader: string): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(hostHeader.trim());
  return m ? m[1]!.toLowerCase() : undefined;
}

/** A Host header that names this machine's loopback: `localhost`, a 127.x.y.z address or `[::1]`, any port. */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostOf(hostHeader);
  if (host === undefined) return false;
  if (host === 'localhost') return true;
  if (host.startsWith('[')) return isLoopbackAddress(host.slice(1, -1));
  return isLoopbackAddress(host);
}

/** The health check: loopback peers only (any Host: tools name the endpoint as they like). */
export function healthAccess(req: AccessRequest): GatewayError | undefined {
  return isLoopbackAddress(req.remoteAddress) ? undefined : forbidden(`the health check answers loopback clients only (peer ${req.remoteAddress ?? 'unknown'})`);
}

/** The console: a loopback peer, a loopback Host, the same Origin, and the console header on changes. */
export function consoleAccess(req: AccessRequest): GatewayError | undefined {
  if (!isLoopbackAddress(req.remoteAddress)) return forbidden(`the console answers loopback clients only (peer ${req.remoteAddress ?? 'unknown'})`);
  const host = req.headers['host'];
  if (!isLoopbackHost(host)) return forbidden(`the console answers only to Host localhost, 127.0.0.1 or [::1] (got ${JSON.stringify(host ?? '')}): a page under another name is refused (DNS rebinding)`);
  const origin = req.headers['origin'];
  if (origin !== undefined && origin !== `http://${host}`) return forbidden(`cross-origin request refused: Origin ${origin} is not http://${host}`);
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.headers[CONSOLE_HEADER] !== '1') return forbidden(`a console change needs the ${CONSOLE_HEADER}: 1 header`);
  return undefined;
}
