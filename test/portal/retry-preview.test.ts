import { describe, expect, it } from 'vitest';
import { formatSpan, retryPreview } from '../../portal/app/retry-preview.ts';

describe('retryPreview', () => {
  it('starts at once, then adds initial × coefficient^(n − 2) for attempt n', () => {
    expect(retryPreview({ initialIntervalMs: 60_000, backoffCoefficient: 4, maximumAttempts: 5 })).toEqual([
      { number: 1, gapMs: 0, atMs: 0 },
      { number: 2, gapMs: 60_000, atMs: 60_000 },
      { number: 3, gapMs: 240_000, atMs: 300_000 },
      { number: 4, gapMs: 960_000, atMs: 1_260_000 },
      { number: 5, gapMs: 3_840_000, atMs: 5_100_000 },
    ]);
  });

  it('keeps the gaps equal with a coefficient of 1 and rounds fractional gaps to milliseconds', () => {
    expect(retryPreview({ initialIntervalMs: 1_000, backoffCoefficient: 1, maximumAttempts: 3 }).map((a) => a.atMs)).toEqual([0, 1_000, 2_000]);
    expect(retryPreview({ initialIntervalMs: 10, backoffCoefficient: 1.55, maximumAttempts: 4 }).map((a) => a.gapMs)).toEqual([0, 10, 16, 24]);
  });

  it('plans exactly the maximum number of attempts', () => {
    expect(retryPreview({ initialIntervalMs: 10, backoffCoefficient: 2, maximumAttempts: 1 })).toEqual([{ number: 1, gapMs: 0, atMs: 0 }]);
    expect(retryPreview({ initialIntervalMs: 10, backoffCoefficient: 2, maximumAttempts: 100 })).toHaveLength(100);
  });
});

describe('formatSpan', () => {
  it('says a span in its two largest units', () => {
    expect(formatSpan(250)).toBe('250 ms');
    expect(formatSpan(2_500)).toBe('2.5 s');
    expect(formatSpan(60_000)).toBe('1 min');
    expect(formatSpan(5_100_000)).toBe('1 h 25 min');
    expect(formatSpan(90_061_000)).toBe('1 d 1 h');
    expect(formatSpan(86_400_000)).toBe('1 d');
  });
});
