// Time ranges of a replay, as half-open [since, until) intervals of epoch milliseconds: pure, so the
// replay workflow can merge requests deterministically and the tests can check every edge.

export interface Range {
  since: number;
  until: number;
}

/** The union of these ranges: sorted, disjoint, non-empty, touching ones joined. */
export function unionOf(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((r) => r.until > r.since).sort((a, b) => a.since - b.since);
  const out: Range[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last && range.since <= last.until) last.until = Math.max(last.until, range.until);
    else out.push({ ...range });
  }
  return out;
}

/** What of `range` none of `taken` covers, in order. */
export function minus(range: Range, taken: readonly Range[]): Range[] {
  let pieces: Range[] = range.until > range.since ? [{ ...range }] : [];
  for (const cut of taken) {
    pieces = pieces.flatMap((piece) => {
      if (cut.until <= piece.since || cut.since >= piece.until) return [piece];
      const kept: Range[] = [];
      if (cut.since > piece.since) kept.push({ since: piece.since, until: cut.since });
      if (cut.until < piece.until) kept.push({ since: cut.until, until: piece.until });
      return kept;
    });
  }
  return pieces;
}
