import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflows } from '../../cli/worker.ts';
import { startDevServer } from '../../cli/temporal-dev-server.ts';
import { freePort } from './ports.ts';
import { ensurePortalBuild } from './portal-build.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    tempDir: string;
    /** Why the portal could not be built ('' when it was): only the tests that serve the portal fail on it. */
    portalBuildError: string;
  }
}

/** One Temporal dev server, one workflow bundle and an up-to-date portal build for the whole run; each test file owns its database. */
export default async function setup(project: TestProject) {
  const tempDir = mkdtempSync(path.join(tmpdir(), 'openhooks-test-'));
  const [server, bundle, portalBuildError] = await Promise.all([
    startDevServer({ dataDir: path.join(tempDir, 'temporal'), port: await freePort(), headless: true, logFile: path.join(tempDir, 'temporal.log') }),
    bundleWorkflows(),
    // The browser tests serve the portal from portal/build: a fresh clone has none, an edit makes it stale.
    ensurePortalBuild().then(
      () => '',
      (err: Error) => err.message,
    ),
  ]);
  const workflowBundlePath = path.join(tempDir, 'workflows.js');
  writeFileSync(workflowBundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('tempDir', tempDir);
  project.provide('portalBuildError', portalBuildError);
  return async () => {
    await server.stop();
    rmSync(tempDir, { recursive: true, force: true });
  };
}
