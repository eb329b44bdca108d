import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { historyFromJson } from './support/history-json.ts';

// Histories of real runs of every released workflow (npm run record-histories). A workflow change
// that would break a delivery in flight fails here; see README "Changing workflows".
// Keep the replay worker's state changes out of the test report (each test file is its own process).
Runtime.install({ logger: new DefaultLogger('WARN') });

const HISTORIES = fileURLToPath(new URL('./histories/', import.meta.url));
const files = readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.split(path.sep).join('/'))
  .sort();

describe('workflow histories of earlier releases replay against the current workflow code', () => {
  const results = new Map<string, ReplayResult>();
  beforeAll(async () => {
    // The file name stands in for the workflow id, so every result names its history file.
    const histories = files.map((file) => ({ workflowId: file, history: historyFromJson(readFileSync(path.join(HISTORIES, file), 'utf8')) }));
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      results.set(result.workflowId, result);
    }
  });

  it('has the baseline scenarios of the first recorded release', () => {
    expect(files).toEqual(expect.arrayContaining(
      ['success', 'retries-then-success', 'exhausted-endpoint-disabled', 'skipped-endpoint-inactive', 'gone-410', 'retry-after'].map((name) => `2026-11-28/${name}.json`),
    ));
  });

  it.each(files)('test/histories/%s', (file) => {
    const result = results.get(file);
    expect(result, `${file} was not replayed`).toBeDefined();
    if (result?.error) throw new Error(`test/histories/${file} does not replay against the current workflow code: ${result.error.message}`, { cause: result.error });
  });
});
