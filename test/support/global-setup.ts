import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflows } from '../../cli/worker.ts';
import { startDevServer } from '../../cli/temporal-dev-server.ts';
import { freePort } from './ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    tempDir: string;
  }
}

/** One Temporal dev server and one workflow bundle for the whole run; each test file owns its database. */
export default async function setup(project: TestProject) {
  const tempDir = mkdtempSync(path.join(tmpdir(), 'openhooks-test-'));
  const [server, bundle] = await Promise.all([
    startDevServer({ dataDir: path.join(tempDir, 'temporal'), port: await freePort(), headless: true, logFile: path.join(tempDir, 'temporal.log') }),
    bundleWorkflows(),
  ]);
  const workflowBundlePath = path.join(tempDir, 'workflows.js');
  writeFileSync(workflowBundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('tempDir', tempDir);
  return async () => {
    await server.stop();
    rmSync(tempDir, { recursive: true, force: true });
  };
}
