import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../lib/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['200ms', 200],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1500', 1500],
    [' 1.5s ', 1500],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '   ', 'soon', '-5s', '-100', '5 minutes', '5x', 's', '1e3', '5m30s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([[86_400_000, '1d'], [7_200_000, '2h'], [90_000, '90s'], [1500, '1500ms']])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
