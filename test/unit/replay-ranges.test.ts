import { describe, expect, it } from 'vitest';
import { minus, unionOf } from '../../lib/replay-ranges.ts';

const r = (since: number, until: number) => ({ since, until });

describe('unionOf', () => {
  it('sorts, joins overlapping and touching ranges, and drops empty ones', () => {
    expect(unionOf([r(20, 30), r(0, 10), r(10, 15), r(25, 40), r(50, 50), r(60, 55)])).toEqual([r(0, 15), r(20, 40)]);
  });
  it('keeps disjoint ranges apart and does not change its input', () => {
    const input = [r(5, 6), r(1, 2)];
    expect(unionOf(input)).toEqual([r(1, 2), r(5, 6)]);
    expect(input).toEqual([r(5, 6), r(1, 2)]);
  });
  it('is empty for nothing', () => {
    expect(unionOf([])).toEqual([]);
  });
});

describe('minus', () => {
  it('cuts what is taken out of the middle, the ends, or all of it', () => {
    expect(minus(r(0, 100), [r(40, 60)])).toEqual([r(0, 40), r(60, 100)]);
    expect(minus(r(0, 100), [r(-10, 10), r(90, 200)])).toEqual([r(10, 90)]);
    expect(minus(r(0, 100), [r(0, 100)])).toEqual([]);
    expect(minus(r(0, 100), [r(-5, 500)])).toEqual([]);
  });
  it('keeps the range whole when nothing overlaps (half-open: touching is not overlapping)', () => {
    expect(minus(r(10, 20), [r(0, 10), r(20, 30)])).toEqual([r(10, 20)]);
  });
  it('cuts several pieces in any order', () => {
    expect(minus(r(0, 100), [r(70, 80), r(10, 20), r(40, 50)])).toEqual([r(0, 10), r(20, 40), r(50, 70), r(80, 100)]);
  });
  it('is empty for an empty range', () => {
    expect(minus(r(5, 5), [])).toEqual([]);
  });
});
