/** An app's effective retry settings: its own values, or the server's where it has none. */
export interface RetrySchedule {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumAttempts: number;
}

export interface PlannedAttempt {
  number: number;
  /** Wait after the previous attempt (0 for the first). */
  gapMs: number;
  /** Time from the first attempt. */
  atMs: number;
}

/**
 * When each attempt of a delivery happens if every one fails without a Retry-After: attempt 1 at
 * once, then gaps of initial × coefficient^(n − 2) for attempt n, as the delivery workflow's
 * Temporal retry policy schedules them (its maximum interval is the last gap, so none is capped).
 */
export function retryPreview(schedule: RetrySchedule): PlannedAttempt[] {
  const attempts: PlannedAttempt[] = [];
  let atMs = 0;
  for (let number = 1; number <= schedule.maximumAttempts; number++) {
    const gapMs = number === 1 ? 0 : Math.round(schedule.initialIntervalMs * schedule.backoffCoefficient ** (number - 2));
    atMs += gapMs;
    attempts.push({ number, gapMs, atMs });
  }
  return attempts;
}

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1_000],
] as const;

/** A span for people: `250 ms`, `2.5 s`, or its two largest units, such as `1 h 25 min`. */
export function formatSpan(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const seconds = Math.round(ms / 1_000) * 1_000;
  const index = UNITS.findIndex(([, size]) => seconds >= size);
  const [unit, size] = UNITS[index]!;
  const [smallUnit, smallSize] = UNITS[index + 1]!;
  const small = Math.floor((seconds % size) / smallSize);
  return `${Math.floor(seconds / size)} ${unit}${small > 0 ? ` ${small} ${smallUnit}` : ''}`;
}
