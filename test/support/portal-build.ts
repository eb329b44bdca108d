import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { portalBuildExists } from '../../portal/mount.ts';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The server bundle inlines what the portal's routes import from the folders beside it, so an edit there makes it stale too.
const SOURCES = ['portal/app', 'portal/vite.config.ts', 'api', 'activities', 'db', 'lib', 'workflows', 'package-lock.json'].map((source) => path.join(ROOT, source));
// The server bundle is the last file `remix vite:build` writes, so its time is the build's time.
const SERVER_BUILD = path.join(ROOT, 'portal/build/server/index.js');
const LOCK = path.join(ROOT, 'portal/.cache/test-build.lock');
const BUILD_TIMEOUT_MS = 180_000;

function newestMtime(file: string): number {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(file).map((name) => newestMtime(path.join(file, name))));
}

function buildIsFresh(): boolean {
  return portalBuildExists() && statSync(SERVER_BUILD).mtimeMs >= Math.max(...SOURCES.filter((s) => existsSync(s)).map(newestMtime));
}

function lockHolderAlive(): boolean {
  const pid = Number(readFileSync(LOCK, 'utf8'));
  // An empty file is a lock being written right now.
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Several test runs share this working tree: one builds while the others wait, so none reads a half-written build. */
async function withBuildLock(build: () => Promise<void>): Promise<void> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!lockHolderAlive()) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another portal build has held ${LOCK} for ${BUILD_TIMEOUT_MS / 1000}s; delete it if no build is running`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await build();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/** `npm run build` when portal/build is missing or older than any of SOURCES; nothing when it is up to date. */
export async function ensurePortalBuild(): Promise<void> {
  if (buildIsFresh()) return;
  await withBuildLock(async () => {
    if (buildIsFresh()) return;
    try {
      await execFileAsync(path.join(ROOT, 'node_modules/.bin/remix'), ['vite:build', '--config', 'portal/vite.config.ts'], {
        cwd: ROOT,
        // Not vitest's NODE_ENV=test: the production build `npm run build` makes.
        env: { ...process.env, NODE_ENV: 'production' },
        timeout: BUILD_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      });
    } catch (err) {
      const e = err as { message: string; stderr?: string };
      throw new Error(`the portal build (npm run build) failed:\n${e.stderr?.trim() || e.message}`, { cause: err });
    }
  });
}
