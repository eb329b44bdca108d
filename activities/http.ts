import { isIP } from 'node:net';
import { Agent, errors, request } from 'undici';
import { addressPolicy, BlockedAddressError, guardedLookup, type NetworkPolicy, type Resolver } from '../lib/network.ts';

/** What one HTTP attempt produced; `errorCode` is set when no HTTP status came back. */
export interface HttpResult {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  errorCode?: 'timeout' | 'connection_failed' | 'blocked_address' | 'dns_failed' | 'invalid_url' | 'insecure_url';
  error?: string;
}

export interface HttpSender {
  post(url: string, headers: Record<string, string>, body: string): Promise<HttpResult>;
  close(): Promise<void>;
}

export const RESPONSE_BODY_LIMIT = 64 * 1024;

export interface HttpSenderOptions extends NetworkPolicy {
  /** The whole attempt, connection to last byte. */
  timeoutMs: number;
  /** ALLOW_HTTP: plain http:// endpoints (https only otherwise). */
  allowHttp: boolean;
  /** Replaces the system DNS resolver (tests). */
  resolve?: Resolver;
}

/**
 * POSTs with keep-alive connections; never follows redirects; reads at most 64 KiB of a response;
 * refuses (as an attempt with `blocked_address`) any address the network policy blocks, checked on
 * the address the socket actually connects to.
 */
export function createHttpSender(options: HttpSenderOptions): HttpSender {
  const allowed = addressPolicy(options);
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: 64,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs, lookup: guardedLookup(options, options.resolve) },
  });

  return {
    async post(url, headers, body) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let target: URL;
      try {
        target = new URL(url);
        if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('protocol');
      } catch {
        return { statusCode: null, headers: {}, body: '', durationMs: 0, errorCode: 'invalid_url', error: `not an http(s) URL: ${url}` };
      }
      if (target.protocol === 'http:' && !options.allowHttp) {
        return { statusCode: null, headers: {}, body: '', durationMs: 0, errorCode: 'insecure_url', error: 'plain http:// endpoints are refused; use https:// (or set ALLOW_HTTP=true)' };
      }
      // An IP literal never reaches the lookup: check it here. (The URL parser has already turned
      // decimal, octal and hex IPv4 forms such as 0x7f.1 into dotted quads.)
      const literal = target.hostname.replace(/^\[|\]$/g, '');
      if (isIP(literal) && !allowed(literal)) {
        const error = new BlockedAddressError(literal, literal);
        return { statusCode: null, headers: {}, body: '', durationMs: 0, errorCode: error.code, error: error.message };
      }
      try {
        const response = await request(target, {
          method: 'POST',
          headers,
          body,
          dispatcher: agent,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_BODY_LIMIT) break; // leaving the loop destroys the body and frees the socket
        }
        const responseHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        return {
          statusCode: response.statusCode,
          headers: responseHeaders,
          body: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8'),
          durationMs: elapsed(),
        };
      } catch (err) {
        return { statusCode: null, headers: {}, body: '', durationMs: elapsed(), ...classify(err, options.timeoutMs) };
      }
    },
    close: () => agent.close(),
  };
}

function classify(err: unknown, timeoutMs: number): Pick<HttpResult, 'errorCode' | 'error'> {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof BlockedAddressError) return { errorCode: cause.code, error: cause.message };
  if (
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
  ) {
    return { errorCode: 'timeout', error: `no complete response within ${timeoutMs}ms` };
  }
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { errorCode: 'dns_failed', error: (cause as Error).message };
  const message = cause instanceof Error ? cause.message : String(cause);
  return { errorCode: 'connection_failed', error: code ? `${code}: ${message}` : message };
}
