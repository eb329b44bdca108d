/** A time as `2026-11-28 14:05 UTC`: server and browser render the same text, whatever their time zones. */
export function utcMinute(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
