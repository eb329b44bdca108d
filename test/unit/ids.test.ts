import { describe, expect, it } from 'vitest';
import { ID_PREFIX, newId } from '../../lib/ids.ts';

describe('newId', () => {
  it.each(Object.entries(ID_PREFIX))('%s ids start with %s_', (kind, prefix) => {
    expect(newId(kind as keyof typeof ID_PREFIX)).toMatch(new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`));
  });

  it('does not repeat over 10k ids made in the same millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('message', 1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });

  it('sorts as strings in the order of its timestamps', () => {
    const times = [0, 1, 255, 256, 65_535, 2 ** 40, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_086_400, 2 ** 48 - 1];
    const ids = times.map((t) => newId('delivery', t));
    expect([...ids].reverse().sort()).toEqual(ids);
  });
});
