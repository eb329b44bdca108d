import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, type TestContext } from 'vitest';
import { API_KEY_ENV, codeSamples, ENDPOINT_ID_PLACEHOLDER, replayRequest, SAMPLE_DATA, SAMPLE_LANGUAGES, sendRequest, type CodeSampleOptions, type SampleLanguage, type SampleRequest } from '../api/code-samples.ts';
import { newSigningSecret, signatureHeaders } from '../lib/signing.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver, type ReceivedRequest } from './support/receiver.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// ---------------------------------------------------------------------------------------------
// Running generated programs. Everything is asynchronous: the API server and the worker run in
// this very process, so a blocking child would keep them from answering it.

const ON_PATH = new Map(['bash', 'curl', 'openssl', 'python3', 'ruby', 'go', 'php'].map((bin) => [bin, spawnSync('which', [bin], { stdio: 'ignore' }).status === 0]));

/** The two kinds of program, each rendered from its request; named as their files are (`send.py`, `replay.py`). */
type ProgramKind = 'send' | 'replay';
const REQUESTS: Record<ProgramKind, (opts: CodeSampleOptions) => SampleRequest> = { send: sendRequest, replay: replayRequest };
const PROGRAM_KINDS = Object.keys(REQUESTS) as ProgramKind[];

const PROGRAM_NEEDS: Record<SampleLanguage, string[]> = { curl: ['bash', 'curl'], node: [], python: ['python3'], ruby: ['ruby'], go: ['go'], php: ['php'] };
const NEEDS: Record<ProgramKind | 'verify', Record<SampleLanguage, string[]>> = {
  send: PROGRAM_NEEDS,
  replay: PROGRAM_NEEDS,
  verify: { curl: ['bash', 'openssl'], node: [], python: ['python3'], ruby: ['ruby'], go: ['go'], php: ['php'] },
};

/** Skips the test with a clear message when a program this language needs is not installed. */
function requireTools(ctx: TestContext, kind: ProgramKind | 'verify', lang: SampleLanguage) {
  const missing = NEEDS[kind][lang].filter((bin) => !ON_PATH.get(bin));
  if (missing.length > 0) ctx.skip(`${missing.join(' and ')} not on PATH: the ${lang} ${kind} sample cannot run on this machine`);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(apiKey?: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Loopback requests must not go through a proxy; the key comes only from the test.
  for (const name of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(name) || name === API_KEY_ENV) delete env[name];
  if (apiKey !== undefined) env[API_KEY_ENV] = apiKey;
  return env;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? childEnv(), timeout: 150_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A program that reads no input may exit before its stdin is closed: that EPIPE is no failure.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? undefined : reject(err)));
    child.stdin.end(opts.input ?? '');
  });
}

function scratchDir(name: string): string {
  return mkdtempSync(path.join(inject('tempDir'), `code-samples-${name}-`));
}

function write(dir: string, file: string, text: string): string {
  const full = path.join(dir, file);
  writeFileSync(full, text.endsWith('\n') ? text : `${text}\n`);
  return full;
}

/** Runs one send or replay program as its users would, with the API key (or none) in the environment. */
function runProgram(kind: ProgramKind, lang: SampleLanguage, sample: string, apiKey?: string): Promise<RunResult> {
  const dir = scratchDir(`${kind}-${lang}`);
  const env = childEnv(apiKey);
  switch (lang) {
    case 'curl': return run('bash', ['-c', sample], { env });
    case 'node': return run(process.execPath, [write(dir, `${kind}.mjs`, sample)], { env });
    case 'python': return run('python3', [write(dir, `${kind}.py`, sample)], { env });
    case 'ruby': return run('ruby', [write(dir, `${kind}.rb`, sample)], { env });
    case 'go': return run('go', ['run', write(dir, `${kind}.go`, sample)], { env, cwd: dir });
    case 'php': return run('php', [write(dir, `${kind}.php`, sample)], { env });
  }
}

interface VerifyCase {
  name: string;
  secret: string;
  headers: Record<string, string>;
  body: string;
  expected: boolean;
}

/** Drivers that call the snippet's `verify(secret, headers, rawBody)` on every case read from stdin and print the answers as JSON. */
const DRIVERS = {
  node: `import { verify } from './verify.mjs';
let input = '';
for await (const chunk of process.stdin) input += chunk;
console.log(JSON.stringify(JSON.parse(input).map((c) => verify(c.secret, c.headers, c.body))));`,
  python: `import json, sys
from verify import verify
print(json.dumps([verify(c['secret'], c['headers'], c['body'].encode('utf-8')) for c in json.load(sys.stdin)]))`,
  ruby: `require 'json'
require_relative 'verify'
puts JSON.generate(JSON.parse($stdin.read).map { |c| verify(c['secret'], c['headers'], c['body']) })`,
  go: `package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
)

func main() {
	var cases []struct {
		Secret  string
		Headers map[string]string
		Body    string
	}
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	results := []bool{}
	for _, c := range cases {
		headers := http.Header{}
		for name, value := range c.Headers {
			headers.Set(name, value)
		}
		results = append(results, verify(c.Secret, headers, []byte(c.Body)))
	}
	out, _ := json.Marshal(results)
	fmt.Println(string(out))
}`,
  php: `<?php
require __DIR__ . '/verify.php';
$cases = json_decode(stream_get_contents(STDIN), true);
echo json_encode(array_map(fn ($c) => verify($c['secret'], $c['headers'], $c['body']), $cases)), "\\n";`,
};

async function runVerify(lang: SampleLanguage, snippet: string, cases: VerifyCase[]): Promise<boolean[]> {
  const dir = scratchDir(`verify-${lang}`);
  const input = JSON.stringify(cases.map(({ secret, headers, body }) => ({ secret, headers, body })));
  const parse = (result: RunResult) => {
    expect(result.code, `${lang} verify failed:\n${result.stderr}${result.stdout}`).toBe(0);
    return JSON.parse(result.stdout.trim()) as boolean[];
  };
  switch (lang) {
    case 'curl':
      // verify SECRET HOSTEDHOOKS_SIGNATURE WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE BODY_FILE
      return Promise.all(cases.map(async (c, i) => {
        const bodyFile = write(dir, `body-${i}`, '');
        writeFileSync(bodyFile, c.body); // the exact bytes, no newline added
        const h = (name: string) => c.headers[name] ?? '';
        const result = await run('bash', ['-c', `${snippet}\nverify "$@"`, 'verify', c.secret, h('hostedhooks-signature'), h('webhook-id'), h('webhook-timestamp'), h('webhook-signature'), bodyFile]);
        expect([0, 1], `bash verify crashed:\n${result.stderr}`).toContain(result.code);
        expect(result.stderr).toBe('');
        return result.code === 0;
      }));
    case 'node':
      write(dir, 'verify.mjs', snippet);
      return parse(await run(process.execPath, [write(dir, 'driver.mjs', DRIVERS.node)], { input, cwd: dir }));
    case 'python':
      write(dir, 'verify.py', snippet);
      return parse(await run('python3', [write(dir, 'driver.py', DRIVERS.python)], { input, cwd: dir }));
    case 'ruby':
      write(dir, 'verify.rb', snippet);
      return parse(await run('ruby', [write(dir, 'driver.rb', DRIVERS.ruby)], { input, cwd: dir }));
    case 'go':
      // The snippet is meant to be pasted below a package clause.
      write(dir, 'verify.go', `package main\n\n${snippet}`);
      write(dir, 'main.go', DRIVERS.go);
      return parse(await run('go', ['run', 'main.go', 'verify.go'], { input, cwd: dir }));
    case 'php':
      write(dir, 'verify.php', snippet);
      return parse(await run('php', [write(dir, 'driver.php', DRIVERS.php)], { input, cwd: dir }));
  }
}

// ---------------------------------------------------------------------------------------------
// Reading Ruby and PHP literals back the way their interpreters do, for machines without them.

function readLiteral(lang: 'ruby' | 'php', literal: string): string {
  const quote = literal[0];
  expect(["'", '"']).toContain(quote);
  expect(literal.length).toBeGreaterThanOrEqual(2);
  expect(literal.at(-1)).toBe(quote);
  const inner = literal.slice(1, -1);
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i]!;
    if (ch === quote) throw new Error(`unescaped ${quote} at ${i} in ${literal}`);
    if (quote === '"' && lang === 'ruby' && ch === '#' && /[{@$]/.test(inner[i + 1] ?? '')) throw new Error(`Ruby would interpolate at ${i} in ${literal}`);
    if (quote === '"' && lang === 'php' && ch === '$') throw new Error(`PHP would interpolate at ${i} in ${literal}`);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = inner[++i] ?? '';
    if (quote === "'") {
      out += next === '\\' || next === "'" ? next : `\\${next}`;
    } else if ('\\"#$'.includes(next) && next !== '') {
      out += next;
    } else if (next === 'n' || next === 'r' || next === 't') {
      out += { n: '\n', r: '\r', t: '\t' }[next];
    } else if (next === 'x') {
      out += String.fromCharCode(parseInt(inner.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (next === 'u' && lang === 'ruby') {
      out += String.fromCodePoint(parseInt(inner.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (next === 'u' && lang === 'php') {
      const end = inner.indexOf('}', i);
      expect(inner[i + 1]).toBe('{');
      out += String.fromCodePoint(parseInt(inner.slice(i + 2, end), 16));
      i = end;
    } else {
      throw new Error(`unknown escape \\${next} in ${literal}`);
    }
  }
  return out;
}

/** The literal right after `prefix` on the line that starts with it, without `suffix`. */
function literalAfter(sample: string, prefix: string, suffix: string): string {
  const line = sample.split('\n').find((l) => l.startsWith(prefix));
  expect(line, `a line starting with ${prefix}`).toBeDefined();
  expect(line!.endsWith(suffix)).toBe(true);
  return line!.slice(prefix.length, line!.length - suffix.length);
}

// ---------------------------------------------------------------------------------------------

const linesOf = (code: string) => code.replace(/\n$/, '').split('\n');
const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;
const idIn = (prefix: 'msg' | 'rpl', output: string) => new RegExp(`"id":"(${prefix}_[0-9a-z]+)"`).exec(output)?.[1];
/** The status a program printed: `202 {…}` (node, python, ruby) or `HTTP/1.1 202 Accepted` (curl, go, php). */
const STATUS_202 = /(^|\s)202\s/;

const plain: CodeSampleOptions = { baseUrl: 'https://hooks.example.com/api/v1', appId: 'app_0123456789abcdefghjkmnpqrs', eventType: 'user.created', version: '1.0', endpointId: 'ep_0123456789abcdefghjkmnpqrs' };

/** Values every language must carry through its string literals unchanged. */
const tricky: CodeSampleOptions[] = [
  {
    baseUrl: 'http://placeholder/api/v1',
    appId: `app 'x' (ü)/"y"!*~$HOME`,
    eventType: `it's "quoted" $HOME \${HOME} #{1+1} #@x #$y \`whoami\` %s \\ \\n\n\t</script> ü € 😀`,
    version: `1.0'"\\`,
    endpointId: `ep 'x' #frag ?q=1 %2F/"y" ü $HOME`,
  },
  // Characters JSON leaves raw but source files cannot all hold raw: DEL, C1 controls, line and paragraph separators.
  { baseUrl: 'http://placeholder/api/v1', appId: 'app_plain', eventType: 'sep\u2028para\u2029nel\u0085del\u007f "q" $x #{y}', version: '2', endpointId: 'ep_plain' },
];

const VERIFY_SIGNATURES: Record<SampleLanguage, RegExp> = {
  curl: /^verify\(\) \{$/m,
  node: /^export function verify\(secret, headers, rawBody\) \{$/m,
  python: /^def verify\(secret, headers, raw_body\):$/m,
  ruby: /^def verify\(secret, headers, raw_body\)$/m,
  go: /^func verify\(secret string, headers http\.Header, rawBody \[\]byte\) bool \{$/m,
  php: /^function verify\(string \$secret, array \$headers, string \$rawBody\): bool$/m,
};

const CONSTANT_TIME: Record<SampleLanguage, RegExp> = {
  curl: /verify_same\(\) \{ \[ "\$\(printf %s "\$1" \| openssl dgst -sha256\)" = "\$\(printf %s "\$2" \| openssl dgst -sha256\)" \]; \}/,
  node: /timingSafeEqual\(/,
  python: /hmac\.compare_digest\(/,
  ruby: /OpenSSL\.secure_compare\(/,
  go: /hmac\.Equal\(/,
  php: /hash_equals\(/,
};

describe('code samples', () => {
  const samples = codeSamples(plain);
  const url = `${plain.baseUrl}/apps/${plain.appId}/messages`;
  const replayUrl = `${plain.baseUrl}/apps/${plain.appId}/endpoints/${plain.endpointId}/replay`;

  it('has a send program, a replay program and a verify snippet in every language, each under 20 lines', () => {
    for (const kind of [...PROGRAM_KINDS, 'verify'] as const) {
      expect(Object.keys(samples[kind]).sort(), kind).toEqual([...SAMPLE_LANGUAGES].sort());
      for (const lang of SAMPLE_LANGUAGES) expect(linesOf(samples[kind][lang]).length, `${kind} ${lang}`).toBeLessThan(20);
    }
  });

  it('writes the URL, the ids and the body once per program, says what it does, and reads the key from the environment', () => {
    for (const kind of PROGRAM_KINDS) {
      for (const lang of SAMPLE_LANGUAGES) {
        const code = samples[kind][lang];
        const at = `${kind} ${lang}`;
        expect(occurrences(code, kind === 'send' ? url : replayUrl), `URL in ${at}`).toBe(1);
        expect(occurrences(code, plain.appId), `app id in ${at}`).toBe(1);
        if (kind === 'send') expect(occurrences(code, SAMPLE_DATA.name), `body in ${at}`).toBe(1);
        else expect(occurrences(code, plain.endpointId!), `endpoint id in ${at}`).toBe(1);
        expect(code, at).toContain(REQUESTS[kind](plain).purpose);
        // The run hint names the program's own file (curl runs as it is pasted).
        if (lang !== 'curl') expect(code, at).toMatch(new RegExp(` ${kind}\\.(mjs|py|rb|go|php)$`, 'm'));
        expect(code, at).toContain(API_KEY_ENV);
        expect(code, at).toMatch(/Bearer /);
        expect(code, at).toContain('application/json');
        expect(code, at).toContain('Idempotency-Key');
        expect(code, at).not.toMatch(/ohk_/);
      }
    }
    // The replay asks for the default range: from where the endpoint's miss began until now.
    expect(replayRequest(plain).body).toBe('{}');
  });

  it('defines verify(secret, headers, rawBody) with both headers, a 5-minute tolerance and constant-time compares', () => {
    for (const lang of SAMPLE_LANGUAGES) {
      const code = samples.verify[lang];
      expect(code, lang).toMatch(VERIFY_SIGNATURES[lang]);
      expect(code, lang).toMatch(CONSTANT_TIME[lang]);
      // The bash function takes the header values as arguments, named HOSTEDHOOKS_SIGNATURE, WEBHOOK_ID, …
      const names = code.toLowerCase().replace(/_/g, '-');
      for (const header of ['hostedhooks-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) expect(names, lang).toContain(header);
      expect(code, lang).toContain('whsec_');
      expect(code, lang).toMatch(lang === 'go' ? /5\*time\.Minute/ : /<= 300/);
    }
    expect(samples.verify.curl).toMatch(/openssl dgst -sha256 -hmac/);
  });

  it('is deterministic, trims a trailing slash off the base URL, encodes the ids and has a placeholder for no endpoint', () => {
    expect(codeSamples(plain)).toEqual(samples);
    const other = codeSamples({ ...plain, baseUrl: `${plain.baseUrl}/`, appId: 'app/1 2', endpointId: 'ep/3?#4' });
    for (const lang of SAMPLE_LANGUAGES) {
      expect(other.send[lang], lang).toContain(`${plain.baseUrl}/apps/app%2F1%202/messages`);
      expect(other.replay[lang], lang).toContain(`${plain.baseUrl}/apps/app%2F1%202/endpoints/ep%2F3%3F%234/replay`);
    }
    const noEndpoint = codeSamples({ ...plain, endpointId: undefined });
    for (const lang of SAMPLE_LANGUAGES) expect(noEndpoint.replay[lang], lang).toContain(`/apps/${plain.appId}/endpoints/${ENDPOINT_ID_PLACEHOLDER}/replay`);
  });

  it('writes Ruby and PHP literals that their interpreters read back exactly', () => {
    for (const opts of [plain, ...tricky]) {
      const programs = codeSamples(opts);
      for (const kind of PROGRAM_KINDS) {
        const request = REQUESTS[kind](opts);
        const { ruby, php } = programs[kind];
        expect(readLiteral('ruby', literalAfter(ruby, 'uri = URI(', ')'))).toBe(request.url);
        expect(readLiteral('ruby', literalAfter(ruby, 'request.body = ', ''))).toBe(request.body);
        expect(readLiteral('php', literalAfter(php, '$stream = fopen(', ", 'r', false, $context);"))).toBe(request.url);
        expect(readLiteral('php', literalAfter(php, "    'content' => ", ','))).toBe(request.body);
      }
    }
    // The second tricky value needs escapes: double quotes, with nothing left to interpolate.
    expect(literalAfter(codeSamples(tricky[1]!).send.ruby, 'request.body = ', '')).toMatch(/^".*\\u2028.*\\#\{y\}.*"$/);
    expect(literalAfter(codeSamples(tricky[1]!).send.php, "    'content' => ", ',')).toMatch(/^".*\\u\{2028\}.*\\\$x.*"$/);
  });

  describe('carry tricky values byte for byte to a receiver', () => {
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await receiver?.close();
    });
    const apiKey = `ohk_fake_$(echo pwned)"'\`x\``;

    it.for(SAMPLE_LANGUAGES)('%s', { timeout: 180_000 }, async (lang, ctx) => {
      requireTools(ctx, 'send', lang);
      const keys: string[] = [];
      for (const opts of [...tricky, tricky[0]!]) {
        const baseUrl = `${new URL(receiver.url).origin}/api/v1`;
        for (const kind of PROGRAM_KINDS) {
          const request = REQUESTS[kind]({ ...opts, baseUrl });
          const before = receiver.requests.length;
          const result = await runProgram(kind, lang, codeSamples({ ...opts, baseUrl })[kind][lang], apiKey);
          expect(result.code, `${lang} ${kind} failed:\n${result.stderr}${result.stdout}`).toBe(0);
          expect(receiver.requests).toHaveLength(before + 1);
          const got: ReceivedRequest = receiver.requests[before]!;
          expect(got.method).toBe('POST');
          // The path's one encoded slash (in an id) decodes like the others, so compare segment by segment.
          expect(got.path.split('/').map(decodeURIComponent)).toEqual(
            kind === 'send' ? ['', 'api', 'v1', 'apps', opts.appId, 'messages'] : ['', 'api', 'v1', 'apps', opts.appId, 'endpoints', opts.endpointId, 'replay'],
          );
          expect(got.body).toBe(request.body);
          expect(JSON.parse(got.body)).toEqual(kind === 'send' ? { event_type: opts.eventType, version: opts.version, data: SAMPLE_DATA } : {});
          expect(got.headers.authorization).toBe(`Bearer ${apiKey}`);
          expect(got.headers['content-type']).toBe('application/json');
          expect(got.headers['idempotency-key']).toMatch(/^[\w-]{16,}$/);
          keys.push(got.headers['idempotency-key'] as string);
        }
      }
      expect(new Set(keys).size, 'a new Idempotency-Key on every run').toBe(keys.length);
    });
  });
});

describe('code samples against a running stack', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let appId: string;
  let subscriberId: string;
  let secret: string;
  beforeAll(async () => {
    stack = await startStack();
    receiver = await startReceiver();
    ({ appId, subscriberId, secret } = await seed(stack.api, receiver.url));
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const samplesFor = () => codeSamples({ baseUrl: `${stack.serverUrl}/api/v1`, appId, eventType: 'user.created', version: '1.0' });
  const messageCount = async () => Number((await stack.api.get(`/apps/${appId}/messages`)).headers.get('x-total-count'));

  it('answers the samples with the real base URL and app id, and the reference docs show them', async () => {
    const answer = await stack.api.get(`/apps/${appId}/code_samples?version=2.0`);
    expect(answer.status).toBe(200);
    for (const kind of [...PROGRAM_KINDS, 'verify']) expect(Object.keys(answer.body[kind]).sort(), kind).toEqual([...SAMPLE_LANGUAGES].sort());
    // The test env's PUBLIC_URL, the first event type of the app by name, the asked version, and no endpoint.
    expect(answer.body).toEqual(codeSamples({ baseUrl: 'http://openhooks.test/api/v1', appId, eventType: 'order.shipped', version: '2.0' }));
    expect(answer.body.replay.node).toContain(`/apps/${appId}/endpoints/${ENDPOINT_ID_PLACEHOLDER}/replay`);

    const doc = await fetch(`${stack.serverUrl}/api/v1/openapi.json`).then((r) => r.json());
    const documented = codeSamples({ baseUrl: 'http://openhooks.test/api/v1', appId: 'APP_ID', eventType: 'user.created', version: '1.0' });
    const sendDescription: string = doc.paths['/apps/{app_id}/messages'].post.description;
    const replayDescription: string = doc.paths['/apps/{app_id}/endpoints/{endpoint_id}/replay'].post.description;
    for (const language of SAMPLE_LANGUAGES) {
      expect(sendDescription).toContain(documented.send[language]);
      expect(sendDescription).toContain(documented.verify[language]);
      expect(replayDescription).toContain(documented.replay[language]);
    }
    expect(doc.paths['/apps/{app_id}/code_samples'].get.parameters.map((p: { name: string }) => p.name)).toContain('endpoint_id');
  });

  it("fills in an endpoint of the app, and answers 404 for another app's endpoint", async () => {
    const endpoints = await stack.api.get(`/apps/${appId}/endpoints`);
    const endpointId: string = endpoints.body[0].id;
    const answer = await stack.api.get(`/apps/${appId}/code_samples?endpoint_id=${endpointId}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(codeSamples({ baseUrl: 'http://openhooks.test/api/v1', appId, eventType: 'order.shipped', version: '1.0', endpointId }));
    for (const lang of SAMPLE_LANGUAGES) expect(answer.body.replay[lang], lang).toContain(`/apps/${appId}/endpoints/${endpointId}/replay`);

    const other = await seed(stack.api, receiver.url);
    for (const id of [other.endpointId, 'ep_unknown']) {
      const refused = await stack.api.get(`/apps/${appId}/code_samples?endpoint_id=${id}`);
      expect(refused.status, id).toBe(404);
      expect(refused.body.code, id).toBe('not_found');
    }
  });

  it('renders the real base URL and app id and never the API key', () => {
    const samples = samplesFor();
    for (const lang of SAMPLE_LANGUAGES) {
      expect(samples.send[lang], lang).toContain(`${stack.serverUrl}/api/v1/apps/${appId}/messages`);
      expect(samples.replay[lang], lang).toContain(`${stack.serverUrl}/api/v1/apps/${appId}/endpoints/`);
      for (const kind of [...PROGRAM_KINDS, 'verify'] as const) expect(samples[kind][lang], `${kind} ${lang}`).not.toContain(stack.apiKey);
    }
  });

  describe('send samples deliver a message', () => {
    it.for(SAMPLE_LANGUAGES)('%s', { timeout: 180_000 }, async (lang, ctx) => {
      requireTools(ctx, 'send', lang);
      const sample = samplesFor().send[lang];

      // Without the key in the environment nothing is accepted.
      const count = await messageCount();
      const refused = await runProgram('send', lang, sample);
      expect(`${refused.stdout}${refused.stderr}`, `${lang} without ${API_KEY_ENV}`).toMatch(new RegExp(`401|unauthorized|${API_KEY_ENV}`));
      expect(await messageCount()).toBe(count);

      const result = await runProgram('send', lang, sample, stack.apiKey);
      expect(result.code, `${lang} send failed:\n${result.stderr}${result.stdout}`).toBe(0);
      expect(result.stdout).toMatch(STATUS_202);
      const id = idIn('msg', result.stdout);
      expect(id, `a message id in the output of ${lang}:\n${result.stdout}`).toBeDefined();

      const delivered = await waitFor(`delivery of ${id}`, () => receiver.requests.find((r) => (JSON.parse(r.body) as { id: string }).id === id));
      expect(JSON.parse(delivered.body)).toMatchObject({ id, type: 'user.created', version: '1.0', data: SAMPLE_DATA });

      const listed = await stack.api.get(`/apps/${appId}/messages`);
      expect(listed.status).toBe(200);
      expect(listed.body.find((m: { id: string }) => m.id === id)).toMatchObject({ id, event_type: 'user.created', version: '1.0', data: SAMPLE_DATA });
      expect(await messageCount()).toBe(count + 1);
    });
  });

  describe('replay samples replay what an endpoint missed', () => {
    let missedReceiver: Awaited<ReturnType<typeof startReceiver>>;
    let endpointId: string;
    let missedMessageId: string;
    let missedSince: string;
    beforeAll(async () => {
      missedReceiver = await startReceiver();
      // An endpoint of its own, for order.shipped only: the send and verify tests never reach it.
      const created = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: missedReceiver.url, version: '1.0', enabled_events: ['order.shipped'] });
      expect(created.status).toBe(201);
      endpointId = created.body.id;
      // It misses one message while disabled and is enabled again: the default range holds that message.
      const endpointPath = `/subscriptions/${subscriberId}/endpoints/${endpointId}`;
      expect((await stack.api.patch(endpointPath, { status: 'inactive' })).status).toBe(200);
      const posted = await stack.api.post(`${endpointPath}/messages`, { event_type: 'order.shipped', version: '1.0', data: { id: 'ord_1' } });
      expect(posted.status).toBe(202);
      missedMessageId = posted.body.id;
      expect((await stack.api.patch(endpointPath, { status: 'active' })).status).toBe(200);
      const missed = await stack.api.get(`/apps/${appId}/endpoints/${endpointId}/missed`);
      expect(missed.body.count).toBe(1);
      missedSince = missed.body.since;
    });
    afterAll(async () => {
      await missedReceiver?.close();
    });

    const replayCount = async () => Number((await stack.api.get(`/apps/${appId}/endpoints/${endpointId}/replays`)).headers.get('x-total-count'));

    it.for(SAMPLE_LANGUAGES)('%s', { timeout: 180_000 }, async (lang, ctx) => {
      requireTools(ctx, 'replay', lang);
      const sample = codeSamples({ baseUrl: `${stack.serverUrl}/api/v1`, appId, eventType: 'user.created', version: '1.0', endpointId }).replay[lang];

      // Without the key in the environment nothing is asked.
      const count = await replayCount();
      const refused = await runProgram('replay', lang, sample);
      expect(`${refused.stdout}${refused.stderr}`, `${lang} without ${API_KEY_ENV}`).toMatch(new RegExp(`401|unauthorized|${API_KEY_ENV}`));
      expect(await replayCount()).toBe(count);

      // The first replay sends the missed message; later ones find nothing left (total 0) and are still recorded.
      const result = await runProgram('replay', lang, sample, stack.apiKey);
      expect(result.code, `${lang} replay failed:\n${result.stderr}${result.stdout}`).toBe(0);
      expect(result.stdout).toMatch(STATUS_202);
      const id = idIn('rpl', result.stdout);
      expect(id, `a replay id in the output of ${lang}:\n${result.stdout}`).toBeDefined();
      const replay = await stack.api.get(`/apps/${appId}/replays/${id}`);
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ id, endpoint_id: endpointId, subscription_id: subscriberId, since: missedSince, requested_by: { kind: 'api_key' } });
      expect(await replayCount()).toBe(count + 1);
    });

    it('sent the missed message again, once', async () => {
      const isMissed = (r: ReceivedRequest) => (JSON.parse(r.body) as { id: string }).id === missedMessageId;
      await waitFor('the missed message', () => missedReceiver.requests.find(isMissed));
      // Once it succeeded no replay can claim it again (they send only failed and skipped deliveries).
      await waitFor('its delivery to succeed', async () => {
        const message = await stack.api.get(`/apps/${appId}/messages/${missedMessageId}`);
        return message.body.deliveries.find((d: { endpoint_id: string; status: string }) => d.endpoint_id === endpointId && d.status === 'succeeded');
      });
      expect(missedReceiver.requests.filter(isMissed)).toHaveLength(1);
    });
  });

  describe('verify snippets judge a real delivery', () => {
    let real: ReceivedRequest;
    beforeAll(async () => {
      const posted = await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { id: 7, name: 'Zoë' } });
      expect(posted.status).toBe(202);
      real = await waitFor('the delivery', () => receiver.requests.find((r) => (JSON.parse(r.body) as { id: string }).id === posted.body.id));
    });

    function cases(): VerifyCase[] {
      const now = Math.floor(Date.now() / 1000);
      const pick = ['hostedhooks-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];
      const headers = Object.fromEntries(pick.map((name) => [name, String(real.headers[name])]));
      const { 'hostedhooks-signature': hosted, ...standard } = headers;
      const hostedOnly = (h: Record<string, string>) => ({ 'hostedhooks-signature': h['hostedhooks-signature']! });
      const standardOnly = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([name]) => name !== 'hostedhooks-signature'));
      const body = real.body;
      const tampered = body.replace('"user.created"', '"user.deleted"');
      expect(tampered).not.toBe(body);
      const id = headers['webhook-id']!;
      const sign = (secrets: [string, ...string[]], at: number, signedBody = body) => signatureHeaders(secrets, id, at, signedBody);
      const newer = newSigningSecret();
      const rotated = sign([newer, secret], now);
      const unicode = JSON.stringify({ name: 'Zoë Ådne 😀', note: 'naïve – ü' });
      return [
        { name: 'the delivered request', secret, headers, body, expected: true },
        { name: 'the delivered request, body changed', secret, headers, body: tampered, expected: false },
        { name: 'the delivered request, a byte appended', secret, headers, body: `${body}\n`, expected: false },
        { name: 'the delivered request, another secret', secret: newSigningSecret(), headers, body, expected: false },
        { name: 'HostedHooks-Signature alone', secret, headers: { 'hostedhooks-signature': hosted! }, body, expected: true },
        { name: 'HostedHooks-Signature alone, body changed', secret, headers: { 'hostedhooks-signature': hosted! }, body: tampered, expected: false },
        { name: 'Standard Webhooks headers alone', secret, headers: standard, body, expected: true },
        { name: 'Standard Webhooks headers alone, body changed', secret, headers: standard, body: tampered, expected: false },
        { name: 'Standard Webhooks headers alone, another webhook-id', secret, headers: { ...standard, 'webhook-id': 'msg_other' }, body, expected: false },
        { name: 'Standard Webhooks headers alone, another timestamp', secret, headers: { ...standard, 'webhook-timestamp': String(Number(standard['webhook-timestamp']) - 1) }, body, expected: false },
        { name: 'no signature headers', secret, headers: {}, body, expected: false },
        { name: 'rotation: the previous secret matches the second v1 entry', secret, headers: rotated, body, expected: true },
        { name: 'rotation: the new secret matches', secret: newer, headers: rotated, body, expected: true },
        { name: 'rotation: a third secret matches nothing', secret: newSigningSecret(), headers: rotated, body, expected: false },
        { name: 'HostedHooks 4 minutes old', secret, headers: hostedOnly(sign([secret], now - 240)), body, expected: true },
        { name: 'HostedHooks 6 minutes old', secret, headers: hostedOnly(sign([secret], now - 360)), body, expected: false },
        { name: 'HostedHooks 6 minutes ahead', secret, headers: hostedOnly(sign([secret], now + 360)), body, expected: false },
        { name: 'Standard Webhooks 4 minutes old', secret, headers: standardOnly(sign([secret], now - 240)), body, expected: true },
        { name: 'Standard Webhooks 6 minutes old', secret, headers: standardOnly(sign([secret], now - 360)), body, expected: false },
        { name: 'Standard Webhooks 6 minutes ahead', secret, headers: standardOnly(sign([secret], now + 360)), body, expected: false },
        { name: 'a non-ASCII body', secret, headers: sign([secret], now, unicode), body: unicode, expected: true },
        { name: 'a non-ASCII body, one letter changed', secret, headers: sign([secret], now, unicode), body: unicode.replace('ü', 'u'), expected: false },
      ];
    }

    it.for(SAMPLE_LANGUAGES)('%s', { timeout: 180_000 }, async (lang, ctx) => {
      requireTools(ctx, 'verify', lang);
      const all = cases();
      const results = await runVerify(lang, samplesFor().verify[lang], all);
      expect(Object.fromEntries(all.map((c, i) => [c.name, results[i]]))).toEqual(Object.fromEntries(all.map((c) => [c.name, c.expected])));
    });
  });
});

