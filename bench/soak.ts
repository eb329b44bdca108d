/**
 * npm run bench:soak: openhooks' server and worker processes under a steady open-model load for
 * BENCH_SOAK_MINUTES (default 10), sampling each process's resident memory every 30 s. Prints the
 * samples and the growth from the first minute's median to the last minute's, per process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSystemUnderTest } from './run.ts';

const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
const rate = Number(process.env.BENCH_SOAK_RATE ?? 20);

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Math.round(Number(line.split(/\s+/)[1]) / 102.4) / 10;
}

const work = mkdtempSync(path.join(tmpdir(), 'openhooks-soak-'));
const system = await startSystemUnderTest(work);
try {
  const samples: { t: number; server: number; worker: number }[] = [];
  const started = Date.now();
  const end = started + minutes * 60_000;
  let sent = 0;
  let nextSample = started;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (sent < due) void system.post({ soak: sent++ }).catch(() => undefined);
    if (Date.now() >= nextSample) {
      samples.push({ t: Math.round((Date.now() - started) / 1000), server: rssMiB(system.serverPid), worker: rssMiB(system.workerPid) });
      console.log(`t=${samples.at(-1)!.t}s server=${samples.at(-1)!.server}MiB worker=${samples.at(-1)!.worker}MiB sent=${sent}`);
      nextSample += 30_000;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const first = samples.filter((s) => s.t <= 60);
  const last = samples.filter((s) => s.t >= minutes * 60 - 60);
  for (const key of ['server', 'worker'] as const) {
    console.log(`soak: ${key} rss first-minute median ${median(first.map((s) => s[key]))} MiB, last-minute median ${median(last.map((s) => s[key]))} MiB`);
  }
} finally {
  await system.stop();
  rmSync(work, { recursive: true, force: true });
}
