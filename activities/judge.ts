import type { HttpResult } from './http.ts';

/** A Retry-After longer than this is capped, so one receiver cannot park a delivery for days. */
export const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;

export interface Outcome {
  succeeded: boolean;
  /** No further attempt can help (410 Gone). */
  final: boolean;
  retryAfterMs?: number;
}

/** Classifies an HTTP result: 2xx succeeds, 410 ends at once, 429/503 may name their own delay. */
export function judge(result: HttpResult, now: Date): Outcome {
  const code = result.statusCode;
  if (code !== null && code >= 200 && code < 300) return { succeeded: true, final: false };
  if (code === 410) return { succeeded: false, final: true };
  if (code === 429 || code === 503) {
    return { succeeded: false, final: false, retryAfterMs: parseRetryAfter(result.headers['retry-after'], now) };
  }
  return { succeeded: false, final: false };
}

// RFC 9110 IMF-fixdate, obsolete RFC 850 and asctime forms; Date.parse alone accepts far too much.
const HTTP_DATE = [
  /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/** `Retry-After` is either seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else if (HTTP_DATE.some((form) => form.test(text))) ms = Date.parse(text) - now.getTime();
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS);
}

/** The endpoint's `disabled_reason`, from the attempt that ended its last delivery. */
export function disabledReason(last: { status_code: number | null; error: string | null; number: number } | undefined): string {
  if (!last) return 'delivery failed';
  if (last.status_code === 410) return 'endpoint answered 410 Gone';
  const what = last.status_code !== null ? `HTTP ${last.status_code}` : (last.error ?? 'no response');
  return `${last.number} failed attempt${last.number === 1 ? '' : 's'}; the last got ${what}`;
}
