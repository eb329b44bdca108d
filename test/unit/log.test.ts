import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { log, setLogLevel } from '../../lib/log.ts';

describe('log', () => {
  let out: string[];
  let err: string[];

  beforeEach(() => {
    out = [];
    err = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
    setLogLevel('info');
  });

  afterEach(() => {
    vi.restoreAllMocks();
    setLogLevel('error');
  });

  const lines = (written: string[]) => written.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

  it('writes one JSON line: level as a word, ISO time, the fields, msg; errors as name and message', () => {
    log.info('delivered', { deliveryId: 'dlv_1', error: new TypeError('boom') });
    const [line] = lines(out);
    expect(line).toMatchObject({ level: 'info', msg: 'delivered', deliveryId: 'dlv_1', error: { name: 'TypeError', message: 'boom' } });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
    expect(err).toEqual([]);
  });

  it('sends warn and error to stderr only, and drops what is below LOG_LEVEL', () => {
    log.debug('hidden');
    log.warn('careful');
    log.error('broken');
    expect(out).toEqual([]);
    expect(lines(err).map((l) => [l.level, l.msg])).toEqual([['warn', 'careful'], ['error', 'broken']]);
    setLogLevel('debug');
    log.debug('shown');
    expect(lines(out).map((l) => l.msg)).toEqual(['shown']);
    expect(log.enabled('debug')).toBe(true);
  });

  it('redacts credentials at the top level and two levels down, in fields and in child bindings', () => {
    const child = log.child({ requestId: 'req-1', password: 'child-password' });
    child.info('request', {
      headers: { authorization: 'Bearer ohk_secret', cookie: 'session=abc', 'x-api-key': 'k' },
      req: { headers: { authorization: 'Basic dXNlcjpwYXNz' } },
      secret: 'whsec_abc',
      DATABASE_URL: 'postgres://u:pw@h/db',
      config: { encryptionKey: 'AAAA', apiKey: 'ohk_x' },
      kept: 'visible',
    });
    const [line] = lines(out);
    const text = out.join('');
    for (const secret of ['child-password', 'ohk_secret', 'session=abc', 'dXNlcjpwYXNz', 'whsec_abc', 'pw@h', 'AAAA', 'ohk_x']) expect(text).not.toContain(secret);
    expect(line).toMatchObject({ requestId: 'req-1', password: '[redacted]', secret: '[redacted]', kept: 'visible', headers: { authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]' } });
  });
});
