import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The graceful stop signal of each child `spawnService` started (its group gets SIGKILL when that is not obeyed). */
const services = new WeakMap<ChildProcess, NodeJS.Signals>();

/**
 * A long-running helper program (the Temporal dev server, the embedded Postgres) in a process group
 * of its own, so that Ctrl-C in a terminal reaches only us and we stop it when its turn comes. It
 * gets `stopSignal` when this process exits for any reason it can see (a crash, `process.exit`).
 */
export function spawnService(
  command: string,
  args: string[],
  opts: { logFile: string; stopSignal: NodeJS.Signals; uid?: number; gid?: number; env?: NodeJS.ProcessEnv },
): ChildProcess {
  const out = openSync(opts.logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], uid: opts.uid, gid: opts.gid, env: opts.env });
  closeSync(out);
  services.set(child, opts.stopSignal);
  const onExit = () => void child.kill(opts.stopSignal);
  process.on('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  return child;
}

/**
 * Sends `signal` (a service's own stop signal by default) and waits for the exit; after `graceMs`
 * the process, or a service's whole group, gets SIGKILL. Never waits more than `graceMs` + 2 s.
 */
export async function stopProcess(child: ChildProcess, signal?: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const group = services.has(child);
  child.kill(signal ?? services.get(child) ?? 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
      setTimeout(resolve, 2_000).unref();
    }, graceMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
}

/** The last `lines` lines of a log file, for an error message. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A TCP port on loopback that was free a moment ago, for a service that cannot pick its own. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
