import { describe, expect, it } from 'vitest';
import { judge, parseRetryAfter } from '../../activities/judge.ts';
import type { HttpResult } from '../../activities/http.ts';

const now = new Date('2025-01-01T00:00:00Z');
const result = (statusCode: number | null, headers: Record<string, string> = {}): HttpResult => ({ statusCode, headers, body: '', durationMs: 5 });

describe('judge', () => {
  it.each([200, 201, 204, 299])('%d succeeds', (code) => {
    expect(judge(result(code), now)).toEqual({ succeeded: true, final: false });
  });

  it('410 is final', () => {
    expect(judge(result(410), now)).toEqual({ succeeded: false, final: true });
  });

  it.each([429, 503])('%d honours Retry-After', (code) => {
    expect(judge(result(code, { 'retry-after': '3' }), now)).toEqual({ succeeded: false, final: false, retryAfterMs: 3000 });
  });

  it.each([300, 400, 404, 500, 502, null])('%s is retryable without a delay of its own', (code) => {
    const outcome = judge(result(code, { 'retry-after': '3' }), now);
    expect(outcome).toMatchObject({ succeeded: false, final: false });
    expect(outcome.retryAfterMs).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads an HTTP date relative to now', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  it('caps at one hour', () => {
    expect(parseRetryAfter('86400', now)).toBe(3_600_000);
    expect(parseRetryAfter('Thu, 02 Jan 2025 00:00:00 GMT', now)).toBe(3_600_000);
  });

  it.each([undefined, '', 'soon', 'in 5 minutes'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  // V8's lenient Date.parse would read these as dates in the past; only HTTP-date forms are parsed.
  it.each(['-5', '3.5', 'foo 1'])('ignores the number-like garbage %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
