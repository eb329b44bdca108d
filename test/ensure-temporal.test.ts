import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../scripts/ensure-temporal.sh', import.meta.url));
const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`;
const archiveName = `temporal_cli_1.5.1_${platform}.tar.gz`;
/** What the script needs besides `temporal` and `go`, which must not be found. */
const TOOLS = ['bash', 'curl', 'tar', 'gzip', 'sha256sum', 'shasum', 'cut', 'tr', 'uname', 'mktemp', 'mkdir', 'chmod', 'mv', 'rm', 'dirname', 'cat'];

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

describe('scripts/ensure-temporal.sh downloads the release archive', () => {
  let dir: string;
  let binDir: string;
  let tools: string;
  let archive: Buffer;
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ensure-temporal-'));
    // PATH is a directory of links to the tools the script uses, so no `temporal` or `go` can be found.
    binDir = path.join(dir, 'bin');
    mkdirSync(binDir);
    for (const name of TOOLS) {
      const found = which(name);
      if (found) symlinkSync(found, path.join(binDir, name));
    }
    expect(existsSync(path.join(binDir, 'curl'))).toBe(true);

    // An archive shaped like the release's: the `temporal` executable at the top, next to other files.
    const content = path.join(dir, 'archive');
    mkdirSync(content);
    writeFileSync(path.join(content, 'temporal'), '#!/bin/sh\necho "temporal version 1.5.1 (test archive)"\n', { mode: 0o755 });
    writeFileSync(path.join(content, 'LICENSE'), 'MIT\n');
    execFileSync('tar', ['-czf', path.join(dir, archiveName), '-C', content, 'temporal', 'LICENSE']);
    archive = readFileSync(path.join(dir, archiveName));

    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === `/release/${archiveName}`) res.writeHead(200, { 'content-type': 'application/gzip' }).end(archive);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    requests.length = 0;
    tools = mkdtempSync(path.join(dir, 'tools-'));
  });

  function ensure(env: Record<string, string>) {
    return run('bash', [script], { env: { PATH: binDir, HOME: dir, NODE_ENV: 'test', OPENHOOKS_TOOLS_DIR: tools, ...env }, timeout: 60_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  }

  const sha256 = () => createHash('sha256').update(archive).digest('hex');

  it('installs the verified archive into the tools directory, then reuses it without downloading', async () => {
    const env = { TEMPORAL_CLI_DOWNLOAD_URL: `${base}/release/`, TEMPORAL_CLI_SHA256: sha256().toUpperCase() };
    const first = await ensure(env);
    expect(first.stderr).toContain(`Downloading the Temporal CLI 1.5.1 from ${base}/release/${archiveName}`);
    expect(first).toMatchObject({ code: 0, stdout: `${tools}/temporal\n` });
    expect(requests).toEqual([`/release/${archiveName}`]);
    accessSync(`${tools}/temporal`, constants.X_OK);
    expect(execFileSync(`${tools}/temporal`, ['--version'], { encoding: 'utf8' })).toBe('temporal version 1.5.1 (test archive)\n');
    // Only the binary: no archive, no LICENSE, no temporary directory left behind.
    expect(readdirSync(tools)).toEqual(['temporal']);

    const second = await ensure(env);
    expect(second).toMatchObject({ code: 0, stdout: `${tools}/temporal\n`, stderr: '' });
    expect(requests).toHaveLength(1);
  });

  it('refuses an archive whose SHA-256 differs and installs nothing', async () => {
    const wrong = await ensure({ TEMPORAL_CLI_DOWNLOAD_URL: `${base}/release`, TEMPORAL_CLI_SHA256: '0'.repeat(64) });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toContain(`Checksum mismatch for ${base}/release/${archiveName}`);
    expect(wrong.stderr).toContain(`got              ${sha256()}`);
    expect(wrong.stderr).toContain('nothing was installed');
    expect(requests).toHaveLength(1);
    expect(readdirSync(tools)).toEqual([]);
  });

  it.runIf(['linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64'].includes(platform))(
    'checks a mirror against the pinned release sum when no TEMPORAL_CLI_SHA256 is given',
    async () => {
      const mirrored = await ensure({ TEMPORAL_CLI_DOWNLOAD_URL: `${base}/release` });
      expect(mirrored.code).toBe(1);
      expect(mirrored.stderr).toMatch(/Checksum mismatch[\s\S]*expected SHA-256 [0-9a-f]{64}\n/);
      expect(mirrored.stderr).not.toContain(`expected SHA-256 ${sha256()}`);
      expect(readdirSync(tools)).toEqual([]);
    },
  );

  it('fails clearly when the download fails, without building or installing anything', async () => {
    const missing = await ensure({ TEMPORAL_CLI_DOWNLOAD_URL: `${base}/gone`, TEMPORAL_CLI_SHA256: sha256() });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('404');
    expect(missing.stderr).toContain(`Could not download ${base}/gone/${archiveName}.`);
    expect(missing.stderr).not.toContain('Building');
    expect(requests).toEqual([`/gone/${archiveName}`]);
    expect(readdirSync(tools)).toEqual([]);
  });
});
