import { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DCLinter } from 'dclint';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../lib/search-attributes.ts';
import { freePort } from './support/ports.ts';
import { historyFromJson } from './support/history-json.ts';
import { openhooksCommand, openhooksCommandOk, OpenhooksProcess, printLogs, scratchDir } from './support/processes.ts';
import { createTestDatabase, testEnv } from './support/stack.ts';

// docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose file against
// the compose-spec schema (dclint), the things that break a deployment when they drift (pins,
// variables, dependencies, health checks, paths), and every command a container runs, run here
// natively with the same arguments.

Runtime.install({ logger: new DefaultLogger('WARN') });
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
// `yaml` as dclint resolves it: the parser its schema check runs on.
const YAML = createRequire(createRequire(import.meta.url).resolve('dclint'))('yaml') as typeof import('yaml');

interface Service {
  image?: string;
  build?: { context: string };
  pull_policy?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean | null>;
  env_file?: unknown;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
  volumes?: string[];
  ports?: string[];
  deploy?: { replicas?: number };
}
const composeSource = read('docker-compose.yml');
const compose = YAML.parse(composeSource, { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const service = (name: string): Service => compose.services[name] ?? expect.fail(`docker-compose.yml has no service ${name}`);
const isOneShot = (s: Service) => s.restart === 'no';
const openhooksServices = services.filter(([, s]) => s.build !== undefined);
const dockerfile = read('Dockerfile');

/** The settings lib/config.ts reads, plus those read outside it (the worker's prebuilt bundle, Node's own). */
function settingNames(): Set<string> {
  const names = [...read('lib/config.ts').matchAll(/\(\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]!);
  return new Set([...names, 'WORKFLOW_BUNDLE', 'NODE_ENV']);
}

describe('docker-compose.yml', () => {
  it('is a valid compose file with no finding of dclint (schema and rules; services stay in start order)', () => {
    const linter = new DCLinter({ rules: { 'services-alphabetical-order': 0, 'require-quotes-in-ports': [2, { quoteType: 'double' }] }, quiet: true, debug: false, exclude: [] });
    const [result] = linter.lintFiles([path.join(ROOT, 'docker-compose.yml')], false);
    expect(result?.messages.map((m) => `${m.rule} (line ${m.line}): ${m.message}`)).toEqual([]);

    // The same check refuses a compose file the schema does not allow, so the pass above means something.
    const broken = path.join(mkdtempSync(path.join(inject('tempDir'), 'compose-')), 'docker-compose.yml');
    writeFileSync(broken, composeSource.replace('condition: service_completed_successfully', 'condition: service_finished'));
    const [refused] = linter.lintFiles([broken], false);
    expect(refused?.messages.map((m) => m.rule)).toContain('invalid-schema');
  });

  it('pins every image to a version; the openhooks services build the one local image', () => {
    for (const [name, s] of services) {
      if (s.build) {
        expect({ name, image: s.image, context: s.build.context, pull: s.pull_policy }).toEqual({ name, image: 'openhooks:local', context: '.', pull: 'build' });
        continue;
      }
      const tag = /^[a-z0-9./-]+:([\w.-]+)$/.exec(s.image ?? '')?.[1];
      expect(tag, `${name}: ${s.image}`).toMatch(/^v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$/);
    }
    // The server and its admin tools are the version scripts/temporal-server.sh builds natively.
    const version = /^version="v([\d.]+)"/m.exec(read('scripts/temporal-server.sh'))?.[1];
    expect(service('temporal').image).toBe(`temporalio/server:${version}`);
    expect(service('temporal-schema').image).toMatch(new RegExp(`^temporalio/admin-tools:${version!.replaceAll('.', '\\.')}-`));
  });

  it('has a line in .env.example for every variable it reads, and none for a variable nothing reads', () => {
    const used = new Set([...composeSource.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
    const documented = new Set([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    expect([...used].filter((name) => !documented.has(name)), 'used in docker-compose.yml, missing from .env.example').toEqual([]);
    const settings = settingNames();
    expect([...documented].filter((name) => !used.has(name) && !settings.has(name)), 'in .env.example, read by nothing').toEqual([]);
    expect([...documented].filter((name) => !used.has(name) && settings.has(name)), 'openhooks settings the compose file does not pass').toEqual([]);
  });

  it('passes the openhooks services only settings openhooks reads', () => {
    const settings = settingNames();
    for (const [name, s] of openhooksServices) {
      expect(Object.keys(s.environment ?? {}).filter((key) => !settings.has(key)), name).toEqual([]);
    }
  });

  it('starts each service after what it needs: one-shot commands completed, long-running services healthy', () => {
    for (const [name, s] of services) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = service(dependency);
        expect(`${name} → ${dependency}: ${condition}`).toBe(`${name} → ${dependency}: ${isOneShot(target) ? 'service_completed_successfully' : 'service_healthy'}`);
      }
    }
    // The workers need the schema and Temporal's namespace; the API needs only the schema.
    expect(Object.keys(service('worker').depends_on ?? {})).toEqual(expect.arrayContaining(['migrate', 'temporal-setup']));
    expect(Object.keys(service('server').depends_on ?? {})).toContain('migrate');
    expect(Object.keys(service('server').depends_on ?? {})).not.toContain('temporal-setup');
  });

  it('restarts and health-checks every long-running service, and runs two servers behind one proxy and two workers', () => {
    for (const [name, s] of services) {
      if (isOneShot(s)) {
        expect(s.healthcheck, name).toEqual({ disable: true });
        continue;
      }
      expect(s.restart, name).toBe('unless-stopped');
      expect(s.healthcheck?.disable, name).toBeUndefined();
      expect(s.healthcheck?.test?.[0], name).toBe('CMD');
    }
    expect(service('server').deploy?.replicas).toBe(2);
    expect(service('worker').deploy?.replicas).toBe(2);
    // Replicas cannot share a host port: only the proxy publishes the API, on loopback.
    expect(service('server').ports).toBeUndefined();
    expect(service('proxy').ports).toEqual(['127.0.0.1:3000:8080']);
  });

  it('mounts files that exist, and the Temporal pieces are the ones the native scripts use', () => {
    for (const [name, s] of services) {
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(path.join(ROOT, source)), `${name}: ${volume}`).toBe(true);
      }
    }
    // temporal-schema runs scripts/temporal-server.sh, the script cli/temporal-server.ts (and its test) run.
    const schema = service('temporal-schema');
    const mount = schema.volumes!.map((v) => v.split(':')).find(([, target]) => schema.entrypoint!.some((arg) => arg.startsWith(`${target}/`)))!;
    const script = path.join(mount[0]!, path.relative(mount[1]!, schema.entrypoint!.find((arg) => arg.startsWith(`${mount[1]}/`))!));
    expect(path.normalize(script)).toBe('scripts/temporal-server.sh');
    expect(read('cli/temporal-server.ts')).toContain("'../scripts/temporal-server.sh'");
    const source = read(script);
    expect(source).toMatch(new RegExp(`^  ${schema.command![0]}\\) `, 'm'));
    for (const key of Object.keys(schema.environment ?? {})) expect(source, key).toContain(`\${${key}:-`);

    // One dynamic config for the compose server and the script's.
    const temporal = service('temporal');
    const [configSource, configTarget] = temporal.volumes![0]!.split(':');
    expect(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH).toBe(configTarget);
    expect(source).toContain(`"$root/${path.normalize(configSource!)}"`);
    expect(YAML.parse(read(configSource!))).toEqual({
      'system.enableActivityEagerExecution': [{ value: true }],
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: false }],
    });

    // The proxy sends to the server's port, and answers its own health check.
    const nginx = read(service('proxy').volumes![0]!.split(':')[0]!);
    expect(nginx).toContain('http://server:3000;');
    expect(service('proxy').healthcheck?.test?.at(-1)).toMatch(/^http:\/\/127\.0\.0\.1:8080\/proxy-health$/);
    expect(nginx).toMatch(/listen 8080;[\s\S]*location = \/proxy-health/);
  });

  it('checks each worker at the port its METRICS_PORT names', () => {
    const worker = service('worker');
    expect(worker.healthcheck?.test?.join(' ')).toContain(`http://127.0.0.1:${worker.environment?.METRICS_PORT}/health`);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1).map((stage) => `FROM ${stage}`);
  const final = stages.at(-1)!;

  it('builds on Node 24 in every stage and runs the final one as a user other than root', () => {
    for (const stage of stages) expect(stage).toMatch(/^FROM node:24\.\d+\.\d+-bookworm-slim( AS [\w-]+)?$/m);
    expect(final).toMatch(/^USER node$/m);
    expect(final).not.toMatch(/^USER root$/m);
    expect(final).toMatch(/^ENTRYPOINT \["node", "bin\/openhooks\.js"\]$/m);
    expect(final).toMatch(/^CMD \["server"\]$/m);
  });

  it('takes node_modules from a stage with production dependencies only', () => {
    const from = /^COPY --from=([\w-]+) \/app\/node_modules /m.exec(final)?.[1];
    const stage = stages.find((s) => s.split('\n')[0]!.endsWith(` AS ${from}`))!;
    expect(stage).toMatch(/npm ci --omit=dev/);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    // bin/openhooks.js runs the TypeScript sources through tsx.
    expect(Object.keys(pkg.dependencies)).toContain('tsx');
  });

  it('copies every folder and package the server and the worker import at run time, and no dev dependency is among them', () => {
    const { files, packages } = runtimeImports(['bin/openhooks.js', 'portal/build/server/index.js']);
    const copied = [...final.matchAll(/^COPY (?!--from)([^\n]+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).slice(0, -1));
    const folders = new Set([...files].map((file) => file.split('/')[0]!));
    expect([...folders].filter((folder) => !copied.includes(folder)), 'imported at run time, not copied into the image').toEqual([]);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect([...packages].filter((name) => !(name in pkg.dependencies)), 'imported at run time, not a production dependency').toEqual([]);

    // What it copies is in the build context.
    const ignored = read('.dockerignore').split('\n').filter((line) => line && !line.startsWith('#') && !line.startsWith('!'));
    expect(copied.filter((source) => ignored.includes(source.replace(/\/$/, ''))), 'copied but left out of the build context').toEqual([]);
    expect(ignored).toEqual(expect.arrayContaining(['.env', 'node_modules', '.git']));
  });

  it('health-checks the server at its liveness route, and the check fails when nothing answers', async () => {
    const database = await createTestDatabase();
    const env = testEnv({ DATABASE_URL: database.url, TEMPORAL_ADDRESS: inject('temporalAddress') });
    let server: OpenhooksProcess | undefined;
    try {
      const migrate = service('migrate').command!;
      await openhooksCommandOk(migrate, env);
      const serverCommand = service('server').command!;
      expect(serverCommand).toEqual(['server']);
      server = await new OpenhooksProcess('server', env, scratchDir('compose')).start();
      const dockerCheck = JSON.parse(/^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
      const composeCheck = service('server').healthcheck!.test!.slice(1);
      const probe = async (argv: string[], port: number) => {
        const [command, ...args] = argv.map((arg) => arg.replace('127.0.0.1:3000/', `127.0.0.1:${port}/`));
        return run(command!, args, { env: { ...process.env, PORT: String(port) }, timeout: 10_000 }).then(() => 0, (err: { code: number }) => err.code);
      };
      const closed = await freePort();
      for (const check of [dockerCheck, composeCheck]) {
        expect(check[0]).toBe('node');
        expect(await probe(check, server.port), check.join(' ')).toBe(0);
        expect(await probe(check, closed), check.join(' ')).toBe(1);
      }
    } catch (err) {
      if (server) printLogs([server]);
      throw err;
    } finally {
      await server?.stop();
      await database.drop();
    }
  }, 180_000);
});

describe('the image build steps, run natively', () => {
  const dir = mkdtempSync(path.join(inject('tempDir'), 'image-'));
  const bundleArgs = /^ && node bin\/openhooks\.js (workflows bundle \S+)$/m.exec(dockerfile)?.[1]?.split(' ') ?? [];
  const bundlePath = path.join(dir, 'workflows.js');

  beforeAll(async () => {
    expect(bundleArgs.slice(0, 2)).toEqual(['workflows', 'bundle']);
    expect(dockerfile).toContain(`WORKFLOW_BUNDLE=/app/${bundleArgs[2]}`);
    await openhooksCommandOk([...bundleArgs.slice(0, 2), bundlePath], {}, 120_000);
  }, 150_000);

  it('writes a workflow bundle that replays the committed histories', async () => {
    const histories = path.join(ROOT, 'test/histories');
    const files = readdirSync(histories, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const inputs = files.map((file) => ({ workflowId: file, history: historyFromJson(readFileSync(path.join(histories, file), 'utf8')) }));
    const failed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: bundlePath } }, inputs)) {
      if (result.error) failed.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failed).toEqual([]);
  });

  it('a worker with WORKFLOW_BUNDLE loads that file instead of bundling, and names a missing one', async () => {
    const database = await createTestDatabase();
    const env = testEnv({ DATABASE_URL: database.url, METRICS_PORT: '0' });
    const logs = scratchDir('compose-worker');
    let worker: OpenhooksProcess | undefined;
    try {
      await openhooksCommandOk(service('migrate').command!, env);
      expect(service('worker').command).toEqual(['worker']);
      worker = await new OpenhooksProcess('worker', { ...env, WORKFLOW_BUNDLE: bundlePath }, logs).start();
      await worker.stop();

      // Proof that the file is what it runs: one that is not a bundle stops the start.
      const garbage = path.join(dir, 'not-a-bundle.js');
      writeFileSync(garbage, 'this is not a workflow bundle');
      const refused = new OpenhooksProcess('worker', { ...env, WORKFLOW_BUNDLE: garbage }, logs, { name: 'worker-garbage' });
      await expect(refused.start(30_000)).rejects.toThrow(/exited during start/);

      const missing = await openhooksCommand(['worker'], { ...env, WORKFLOW_BUNDLE: path.join(dir, 'missing.js') });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`WORKFLOW_BUNDLE=${path.join(dir, 'missing.js')} does not exist`);
    } catch (err) {
      if (worker) printLogs([worker]);
      throw err;
    } finally {
      await worker?.stop();
      await database.drop();
    }
  }, 180_000);
});

describe('openhooks temporal setup (the temporal-setup service; scripts/temporal-server.sh register)', () => {
  const namespace = `compose-${randomBytes(4).toString('hex')}`;
  let connection: Connection;
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('creates the namespace and our search attributes once, and changes nothing when run again', async () => {
    const argv = service('temporal-setup').command!;
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'error' };
    const setup = async () => JSON.parse((await openhooksCommandOk(argv, env, 90_000)).trim().split('\n').at(-1)!) as Record<string, unknown>;
    const first = await setup();
    expect(first).toEqual({ namespace, namespace_created: true, search_attributes_added: SEARCH_ATTRIBUTES.map((sa) => sa.name) });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    for (const sa of SEARCH_ATTRIBUTES) expect(customAttributes?.[sa.name], sa.name).toBeDefined();

    const second = await setup();
    expect(second).toEqual({ namespace, namespace_created: false, search_attributes_added: [] });
  }, 180_000);

  it('gives up with a clear message when no server answers within its timeout', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const result = await openhooksCommand([...service('temporal-setup').command!, '--timeout', '2s'], { TEMPORAL_ADDRESS: address, LOG_LEVEL: 'error' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Could not connect to Temporal at ${address}`);
  }, 180_000);
});

/**
 * The project files and npm packages reachable from `entries` through static imports and literal
 * dynamic imports (type-only imports are erased, so they do not count).
 */
function runtimeImports(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    expect(existsSync(path.join(ROOT, file)), `${file} (imported at run time)`).toBe(true);
    files.add(file);
    const source = read(file);
    const specifiers = [
      ...[...source.matchAll(/^\s*(?:import|export)(?!\s+type\s)[^'";]*?\sfrom\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
      else if (!builtins.has(specifier)) packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
  }
  return { files, packages };
}
