import { expect, it } from 'vitest';
import { runBench } from '../bench/run.ts';

// The benchmark at tiny sizes: it must run every scenario, balance its ledger and print its summary.
// Numbers are not judged here (timing belongs to `npm run bench`), only that each was produced.
it('runs every scenario with a balanced ledger and a readable summary line', async () => {
  const { rows, summary, summaryLine } = await runBench({
    rate: 10, warmupS: 1, steadyS: 2, throughputN: 20, acceptS: 1, acceptConcurrency: 4, acceptRate: 20, fanout: 5, burstN: 20, embeddedN: 20, drainTimeoutS: 60,
  });
  expect(rows.map((r) => r.scenario)).toEqual([
    'S throughput', 'S latency @10/s', 'fan-out 1→5', 'burst 20', 'A accept, engine live', 'A accept, API alone', 'A accept @20/s, API alone', 'A bare Express+INSERT', 'B floor (sign+POST+INSERT)', 'T engine (no-op activity)', 'E engine floor (empty workflow)', 'embedded default, burst 20',
  ]);
  for (const row of rows) expect(row.per_s, row.scenario).toBeGreaterThan(0);
  expect(summary.ledger).toBe('ok');
  expect(summaryLine).toMatch(/^bench: S\/T=[\d.]+ S\/B=[\d.]+ A\/bare=[\d.]+ accept_per_s=[\d.]+ deliveries_per_s=[\d.]+ p50_ms=[\d.]+ p99_ms=[\d.]+ engine_floor_per_s=[\d.]+ S\/E=[\d.]+ ledger=ok$/);
}, 180_000);
