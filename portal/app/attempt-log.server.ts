import { attemptLogPage } from '../../db/attempts.ts';
import type { Db } from '../../db/connection.ts';
import { nextPageSearch, parseLogQuery } from './log-query';

/** Attempts per page of a logs page. */
const PAGE = 50;

/**
 * One page of an app's attempt log as the logs pages show it, filtered by the query string (see
 * log-query.ts). `subscriberId` confines it to one subscriber whatever the query says: the
 * subscriber portal's logs.
 */
export async function attemptLogView(db: Db, appId: string, searchParams: URLSearchParams, scope: { subscriberId?: string } = {}) {
  const query = parseLogQuery(searchParams);
  const filter = scope.subscriberId ? { ...query.filter, subscriberId: scope.subscriberId } : query.filter;
  const page = await attemptLogPage(db, appId, filter, { limit: PAGE, ...(query.cursor ? { cursor: query.cursor } : {}) });
  return {
    values: query.values,
    errors: query.errors,
    paged: query.cursor !== undefined,
    next: page.next ? nextPageSearch(query.values, page.next) : undefined,
    attempts: page.rows.map((a) => ({
      id: a.id,
      at: a.created_at.toISOString(),
      succeeded: a.succeeded,
      statusCode: a.status_code,
      error: a.error,
      eventType: a.event_type,
      messageId: a.message_id,
      subscriberId: a.subscriber_id,
      url: a.url,
      number: a.number,
      trigger: a.trigger,
      durationMs: a.duration_ms,
    })),
  };
}
