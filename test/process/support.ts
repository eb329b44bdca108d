import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { waitFor } from '../support/ports.ts';

const execFileAsync = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin/openhooks.js');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A folder of this run's temp dir for one test file's logs. */
export function logDir(name: string): string {
  return mkdtempSync(path.join(inject('tempDir'), `process-${name}-`));
}

/** Only what the test passes, plus PATH and HOME: never the test runner's own variables. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NODE_ENV: 'production', ...env };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/openhooks.js <args>` to completion (migrate, account create). */
export async function openhooksCommand(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), timeout: timeoutMs, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const live = new Set<ChildProcess>();
// If the test process dies, its children must not outlive it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One `node bin/openhooks.js server|worker` child; its stdout and stderr go straight to files of
 * their own (`<name>.stdout.log`, `<name>.stderr.log`), written by the child itself.
 */
export class OpenhooksChild {
  readonly child: ChildProcess;
  readonly stdoutFile: string;
  readonly stderrFile: string;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;

  private constructor(
    readonly kind: 'server' | 'worker',
    readonly name: string,
    env: Record<string, string>,
    dir: string,
  ) {
    this.stdoutFile = path.join(dir, `${name}.stdout.log`);
    this.stderrFile = path.join(dir, `${name}.stderr.log`);
    const out = openSync(this.stdoutFile, 'a');
    const err = openSync(this.stderrFile, 'a');
    this.child = spawn(process.execPath, [BIN, kind], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', out, err] });
    closeSync(out);
    closeSync(err);
    live.add(this.child);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this.child);
        resolve(this.exit);
      });
    });
  }

  /** Spawns and resolves once the process logs that it is ready (`server listening` / `worker started`). */
  static async start(kind: 'server' | 'worker', name: string, env: Record<string, string>, dir: string, timeoutMs = 45_000): Promise<OpenhooksChild> {
    const child = new OpenhooksChild(kind, name, env, dir);
    const ready = kind === 'server' ? 'server listening' : 'worker started';
    try {
      await waitFor(
        `${name} to be ready`,
        () => {
          if (child.exit) throw new Error(`${name} exited during start (${JSON.stringify(child.exit)}):\n${child.output()}`);
          return child.lines().some((line) => line.msg === ready) ? true : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      await child.stop('SIGKILL');
      throw err;
    }
    return child;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The port a server logged (it ran with PORT=0). */
  get port(): number {
    const line = this.lines().find((l) => l.msg === 'server listening');
    if (!line || typeof line.port !== 'number') throw new Error(`${this.name} has not logged its port`);
    return line.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Waits for the exit; undefined if it did not come within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` (SIGKILL after `graceMs` if it is not obeyed) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  stdout(): string {
    return readOrEmpty(this.stdoutFile);
  }

  stderr(): string {
    return readOrEmpty(this.stderrFile);
  }

  output(): string {
    return `--- ${this.stdoutFile}\n${this.stdout()}--- ${this.stderrFile}\n${this.stderr()}`;
  }

  /** Every JSON line of both streams (lines that are not JSON are left out). */
  lines(): Record<string, unknown>[] {
    return `${this.stdout()}\n${this.stderr()}`
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Stops every given child that still runs (SIGTERM, then SIGKILL), all at once. */
export async function stopAll(children: (OpenhooksChild | undefined)[]): Promise<void> {
  await Promise.allSettled(children.filter((c) => c !== undefined).map((c) => c.stop('SIGTERM', 10_000)));
}
