import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, nextPageSearch, parseLogQuery } from '../../portal/app/log-query.ts';

const parse = (search: string) => parseLogQuery(new URLSearchParams(search));

describe('parseLogQuery', () => {
  it('reads every filter from the query string', () => {
    const query = parse('status=failed&subscriber=sub_1&endpoint=ep_1&event_type=user.created&since=2026-12-01&until=2026-12-02&q=evt_9');
    expect(query.filter).toEqual({
      succeeded: false,
      subscriberId: 'sub_1',
      endpointId: 'ep_1',
      eventType: 'user.created',
      search: 'evt_9',
      since: new Date('2026-12-01T00:00:00Z'),
      // The last day counts whole.
      until: new Date('2026-12-03T00:00:00Z'),
    });
    expect(query.errors).toEqual({});
    expect(parse('status=success').filter).toEqual({ succeeded: true });
  });

  it('narrows nothing with a field it cannot read, and says why', () => {
    const query = parse('status=maybe&since=2026-02-30&until=yesterday&after=%%%');
    expect(query.filter).toEqual({});
    expect(Object.keys(query.errors).sort()).toEqual(['after', 'since', 'status', 'until']);
    expect(query.values).toMatchObject({ status: 'maybe', since: '2026-02-30', until: 'yesterday' });
    expect(query.cursor).toBeUndefined();
  });

  it('keeps the filters and adds the cursor for the next page', () => {
    const cursor = { createdAtMicros: '1796119200123456', id: 'att_1' };
    const search = nextPageSearch(parse('status=failed&q=').values, cursor);
    const next = parse(search.slice(1));
    expect(next.filter).toEqual({ succeeded: false });
    expect(next.cursor).toEqual(cursor);
  });
});

describe('cursors', () => {
  it('round-trip, and refuse anything that is not a cursor', () => {
    const cursor = { createdAtMicros: '1796119200123456', id: 'att_x' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const bad of ['', 'notbase64!', Buffer.from('{"a":1}').toString('base64url'), Buffer.from('["2026-12-01 10:00:00+00","att"]').toString('base64url'), Buffer.from('["1e5","att"]').toString('base64url')]) {
      expect(decodeCursor(bad), bad).toBeUndefined();
    }
  });
});
