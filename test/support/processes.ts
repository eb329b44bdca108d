import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { stopProcess } from '../../cli/temporal-dev-server.ts';
import { waitFor } from './ports.ts';

// Real `node bin/openhooks.js …` processes for the tests that need them (test/process, test/faults).

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin/openhooks.js');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A new folder of this run's temp dir (`<prefix>-XXXXXX`), for one test file's logs and data. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(inject('tempDir'), `${prefix}-`));
}

/** The environment a child gets: only what the test passes, plus PATH and HOME (never the test runner's own variables). */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env, NODE_ENV: 'production' };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/openhooks.js <args>` to completion (migrate, account create), bounded by `timeoutMs`; a failure is a result, not an exception. */
export async function openhooksCommand(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), timeout: timeoutMs, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `openhooksCommand` that must succeed: its stdout, or an error with the exit code and stderr. */
export async function openhooksCommandOk(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  const result = await openhooksCommand(args, env, timeoutMs);
  // Only the command's name: the other arguments may hold a password.
  if (result.code !== 0) throw new Error(`openhooks ${args.slice(0, 2).join(' ')} exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

/** `openhooks account create` (it also migrates); returns the printed account id and API key. */
export async function createAccountCli(
  env: Record<string, string>,
  account: { name: string; email: string; password: string } = { name: 'Faults', email: 'owner@faults.test', password: 'correct horse battery' },
): Promise<{ accountId: string; apiKey: string }> {
  const out = await openhooksCommandOk(['account', 'create', '--name', account.name, '--email', account.email, '--password', account.password], env);
  const printed = JSON.parse(out.trim().split('\n').at(-1)!) as { account_id: string; api_key: string };
  return { accountId: printed.account_id, apiKey: printed.api_key };
}

const live = new Set<ChildProcess>();
// If the test process dies, its children must not outlive it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export type Kind = 'server' | 'worker' | 'start';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessOptions {
  /** Names its log files and failure messages; the kind by default. */
  name?: string;
  /** The child's LOG_LEVEL (whatever `env` says): info by default, since the readiness lines are info lines. */
  logLevel?: string;
  /** In a process group of its own, as a terminal runs a command: `signalGroup` then signals it like Ctrl-C does. */
  detached?: boolean;
}

/**
 * One `node bin/openhooks.js server|worker|start` child. Every start writes its stdout and stderr to files
 * of their own (`<name>-<n>.stdout.log`, `<name>-<n>.stderr.log`), written by the child itself, and
 * resolves once the process logs that it is ready (`server listening` / `worker started` /
 * `openhooks is running`).
 *
 * A server runs on `env.PORT`: a fixed port is kept by every start (a restart binds it again); with
 * PORT=0 each start gets a port of its own, read from its `server listening` line.
 */
export class OpenhooksProcess {
  child: ChildProcess | undefined;
  starts = 0;
  /** Every start's log files, oldest first. */
  readonly runs: { stdout: string; stderr: string }[] = [];
  /** How the current (or last) run ended; undefined while it runs or before the first start. */
  exit: Exit | undefined;
  readonly name: string;
  private readonly logLevel: string;
  private readonly detached: boolean;
  private exited: Promise<Exit | undefined> = Promise.resolve(undefined);

  constructor(
    readonly kind: Kind,
    readonly env: Record<string, string>,
    readonly logDir: string,
    options: ProcessOptions = {},
  ) {
    this.name = options.name ?? kind;
    this.logLevel = options.logLevel ?? 'info';
    this.detached = options.detached ?? false;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The fixed PORT it was given, or else the port the current run logged (it ran with PORT=0). */
  get port(): number {
    const fixed = Number(this.env.PORT ?? '0');
    if (fixed) return fixed;
    const line = this.lines().find((l) => l.msg === 'server listening');
    if (!line || typeof line.port !== 'number') throw new Error(`${this.name} has not logged its port`);
    return line.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Spawns the process and resolves once it has logged that it is ready. */
  async start(timeoutMs = 60_000): Promise<this> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.starts++;
    const run = { stdout: path.join(this.logDir, `${this.name}-${this.starts}.stdout.log`), stderr: path.join(this.logDir, `${this.name}-${this.starts}.stderr.log`) };
    this.runs.push(run);
    const out = openSync(run.stdout, 'a');
    const err = openSync(run.stderr, 'a');
    const child = spawn(process.execPath, [BIN, this.kind], { cwd: ROOT, env: childEnv({ ...this.env, LOG_LEVEL: this.logLevel }), stdio: ['ignore', out, err], detached: this.detached });
    closeSync(out);
    closeSync(err);
    this.child = child;
    this.exit = undefined;
    live.add(child);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = { code, signal };
        if (this.child === child) this.exit = exit;
        live.delete(child);
        resolve(exit);
      });
    });
    const ready = (): boolean => {
      if (this.kind === 'start') return this.stdout().includes('openhooks is running');
      const msg = this.kind === 'server' ? 'server listening' : 'worker started';
      return this.lines().some((line) => line.msg === msg);
    };
    try {
      await waitFor(
        `${this.name} to be ready`,
        () => {
          if (this.exit) throw new Error(`${this.name} exited during start (code ${this.exit.code}, signal ${this.exit.signal}):\n${this.output(30)}`);
          return ready() ? true : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      await this.stop('SIGKILL');
      throw err;
    }
    return this;
  }

  /** Sends `signal` (a SIGTERM not obeyed in `graceMs` becomes SIGKILL) and waits until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<Exit | undefined> {
    if (this.child && this.running) await stopProcess(this.child, signal, graceMs);
    return this.exited;
  }

  /** Stops the process with `signal` and starts it again with the same environment. */
  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<this> {
    await this.stop(signal);
    return this.start();
  }

  /** Sends `signal` and returns at once. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Sends `signal` to the whole process group of a `detached` process, as Ctrl-C in its terminal would. */
  signalGroup(signal: NodeJS.Signals): void {
    if (!this.detached || !this.pid) throw new Error(`${this.name} does not run in a process group of its own`);
    process.kill(-this.pid, signal);
  }

  /** The running process and every descendant of it, even those in process groups of their own. */
  tree(): number[] {
    return this.running && this.pid ? processTree(this.pid) : [];
  }

  /** SIGKILL to the process and all its descendants (for `start`, the embedded services too). */
  async kill(): Promise<void> {
    for (const pid of this.tree()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.exited;
  }

  /** Waits for the current run's exit; undefined if it did not come within `timeoutMs`. */
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

  /** What the current (or last) run wrote to stdout. */
  stdout(): string {
    return readOrEmpty(this.runs.at(-1)?.stdout);
  }

  /** What the current (or last) run wrote to stderr. */
  stderr(): string {
    return readOrEmpty(this.runs.at(-1)?.stderr);
  }

  /** Every JSON line of the current (or last) run, both streams (lines that are not JSON are left out). */
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

  /** Every run's log files, each under its name, for failure messages: their last `lines` lines, or all of them. */
  output(lines?: number): string {
    return this.runs
      .flatMap((run) => [run.stdout, run.stderr])
      .map((file) => {
        const text = readOrEmpty(file);
        return `--- ${file}\n${lines === undefined ? text : text.split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }
}

/** `pid` and its descendants, from the parent pid in each /proc/<pid>/stat (Linux). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** Which of `pids` still exist (zombies count as gone: they have exited). */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

function readOrEmpty(file: string | undefined): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // not written yet
  }
}

/** For a failing test: the end of every run's logs of each process (the files go with the run's temp dir). */
export function printLogs(processes: (OpenhooksProcess | undefined)[], lines = 40): void {
  for (const p of processes) if (p) console.log(`${p.name} (${p.running ? 'running' : 'not running'}, ${p.starts} start(s)):\n${p.output(lines)}`);
}

/** Stops every given process that still runs (SIGTERM, then SIGKILL after a grace period), all at once. */
export async function stopAll(processes: (OpenhooksProcess | undefined)[]): Promise<void> {
  await Promise.allSettled(processes.flatMap((p) => (p ? [p.stop('SIGTERM', 10_000)] : [])));
}
