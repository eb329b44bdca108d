import { describe, expect, it } from 'vitest';
import { settleAll } from '../../lib/concurrency.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('settleAll', () => {
  it('keeps at most `limit` calls in flight and uses all of them', async () => {
    let inFlight = 0;
    let max = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    await settleAll(items, 3, async (i) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await tick(i % 4);
      inFlight--;
      return i;
    });
    expect(max).toBe(3);
    expect(inFlight).toBe(0);
  });

  it('returns results in item order even when they finish out of order', async () => {
    const results = await settleAll([30, 1, 15, 5], 4, async (ms) => {
      await tick(ms);
      return ms * 2;
    });
    expect(results).toEqual([30, 1, 15, 5].map((ms) => ({ status: 'fulfilled', value: ms * 2 })));
  });

  it('captures rejections without stopping the other items', async () => {
    const boom = new Error('boom');
    const seen: number[] = [];
    const results = await settleAll([1, 2, 3], 1, (n) => {
      seen.push(n);
      return n === 2 ? Promise.reject(boom) : Promise.resolve(n);
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 3 },
    ]);
  });

  it('handles no items', async () => {
    expect(await settleAll([], 5, () => Promise.resolve(1))).toEqual([]);
  });

  // A limit below 1 would start no lanes and settle nothing: it is refused instead.
  it('refuses a limit below 1', async () => {
    await expect(settleAll([1, 2], 0, (n) => Promise.resolve(n))).rejects.toThrow(RangeError);
  });
});
