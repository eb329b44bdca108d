import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, type TestContext } from 'vitest';
import { API_KEY_ENV, codeSamples, SAMPLE_DATA, SAMPLE_LANGUAGES, sendRequest, type CodeSampleOptions, type SampleLanguage } from '../api/code-samples.ts';
import { newSigningSecret, signatureHeaders } from '../lib/signing.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver, type ReceivedRequest } from './support/receiver.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// ---------------------------------------------------------------------------------------------
// Running generated programs. Everything is asynchronous: the API server and the worker run in
// this very process, so a blocking child would keep them from answering it.

const ON_PATH = new Map(['bash', 'curl', 'openssl', 'python3', 'ruby', 'go', 'php'].map((bin) => [bin, spawnSync('which', [bin], { stdio: 'ignore' }).status === 0]));

const NEEDS: Record<'send' | 'verify', Record<SampleLanguage, string[]>> = {
  send: { curl: ['bash', 'curl'], node: [], python: ['python3'], ruby: ['ruby'], go: ['go'], php: ['php'] },
  verify: { curl: ['bash', 'openssl'], node: [], python: ['python3'], ruby: ['ruby'], go: ['go'], php: ['php'] },
};

/** Skips the test with a clear message when a program this language needs is not installed. */
function requireTools(ctx: TestContext, kind: 'send' | 'verify', lang: SampleLanguage) {
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

/** Runs one send sample as its users would, with the API key (or none) in the environment. */
function runSend(lang: SampleLanguage, sample: string, apiKey?: string): Promise<RunResult> {
  const dir = scratchDir(`send-${lang}`);
  const env = childEnv(apiKey);
  switch (lang) {
    case 'curl': return run('bash', ['-c', sample], { env });
    case 'node': return run(process.execPath, [write(dir, 'send.mjs', sample)], { env });
    case 'python': return run('python3', [write(dir, 'send.py', sample)], { env });
    case 'ruby': return run('ruby', [write(dir, 'send.rb', sample)], { env });
    case 'go': return run('go', ['run', write(dir, 'send.go', sample)], { env, cwd: dir });
    case 'php': return run('php', [write(dir, 'send.php', sample)], { env });
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
const messageIdIn = (output: string) => /"id":"(msg_[0-9a-z]+)"/.exec(output)?.[1];

const plain: CodeSampleOptions = { baseUrl: 'https://hooks.example.com/api/v1', appId: 'app_0123456789abcdefghjkmnpqrs', eventType: 'user.created', version: '1.0' };

/** Values every language must carry through its string literals unchanged. */
const tricky: CodeSampleOptions[] = [
  {
    baseUrl: 'http://placeholder/api/v1',
    appId: `app 'x' (ü)/"y"!*~$HOME`,
    eventType: `it's "quoted" $HOME \${HOME} #{1+1} #@x #$y \`whoami\` %s \\ \\n\n\t</script> ü € 😀`,
    version: `1.0'"\\`,
  },
  // Characters JSON leaves raw but source files cannot all hold raw: DEL, C1 controls, line and paragraph separators.
  { baseUrl: 'http://placeholder/api/v1', appId: 'app_plain', eventType: 'sep\u2028para\u2029nel\u0085del\u007f "q" $x #{y}', version: '2' },
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

  it('has a send program and a verify snippet in every language, each under 20 lines', () => {
    expect(Object.keys(samples.send).sort()).toEqual([...SAMPLE_LANGUAGES].sort());
    expect(Object.keys(samples.verify).sort()).toEqual([...SAMPLE_LANGUAGES].sort());
    for (const lang of SAMPLE_LANGUAGES) {
      expect(linesOf(samples.send[lang]).length, `send ${lang}`).toBeLessThan(20);
      expect(linesOf(samples.verify[lang]).length, `verify ${lang}`).toBeLessThan(20);
    }
  });

  it('writes the URL, the app id and the body once per send program, and reads the key from the environment', () => {
    for (const lang of SAMPLE_LANGUAGES) {
      const code = samples.send[lang];
      expect(occurrences(code, url), `URL in ${lang}`).toBe(1);
      expect(occurrences(code, plain.appId), `app id in ${lang}`).toBe(1);
      expect(occurrences(code, SAMPLE_DATA.name), `body in ${lang}`).toBe(1);
      expect(code, lang).toContain(API_KEY_ENV);
      expect(code, lang).toMatch(/Bearer /);
      expect(code, lang).toContain('application/json');
      expect(code, lang).toContain('Idempotency-Key');
      expect(code, lang).not.toMatch(/ohk_/);
    }
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

  it('is deterministic, trims a trailing slash off the base URL and encodes the app id', () => {
    expect(codeSamples(plain)).toEqual(samples);
    const other = codeSamples({ ...plain, baseUrl: `${plain.baseUrl}/`, appId: 'app/1 2' });
    for (const lang of SAMPLE_LANGUAGES) expect(other.send[lang], lang).toContain(`${plain.baseUrl}/apps/app%2F1%202/messages`);
  });

  it('writes Ruby and PHP literals that their interpreters read back exactly', () => {
    for (const opts of [plain, ...tricky]) {
      const request = sendRequest(opts);
      const { send } = codeSamples(opts);
      expect(readLiteral('ruby', literalAfter(send.ruby, 'uri = URI(', ')'))).toBe(request.url);
      expect(readLiteral('ruby', literalAfter(send.ruby, 'request.body = ', ''))).toBe(request.body);
      expect(readLiteral('php', literalAfter(send.php, 'echo file_get_contents(', ', false, $context), "\\n";'))).toBe(request.url);
      expect(readLiteral('php', literalAfter(send.php, "    'content' => ", ','))).toBe(request.body);
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
        const request = sendRequest({ ...opts, baseUrl });
        const before = receiver.requests.length;
        const result = await runSend(lang, codeSamples({ ...opts, baseUrl }).send[lang], apiKey);
        expect(result.code, `${lang} send failed:\n${result.stderr}${result.stdout}`).toBe(0);
        expect(receiver.requests).toHaveLength(before + 1);
        const got: ReceivedRequest = receiver.requests[before]!;
        expect(got.method).toBe('POST');
        expect(decodeURIComponent(got.path)).toBe(`/api/v1/apps/${opts.appId}/messages`);
        expect(got.body).toBe(request.body);
        expect(JSON.parse(got.body)).toEqual({ event_type: opts.eventType, version: opts.version, data: SAMPLE_DATA });
        expect(got.headers.authorization).toBe(`Bearer ${apiKey}`);
        expect(got.headers['content-type']).toBe('application/json');
        expect(got.headers['idempotency-key']).toMatch(/^[\w-]{16,}$/);
        keys.push(got.headers['idempotency-key'] as string);
      }
      expect(new Set(keys).size, 'a new Idempotency-Key on every run').toBe(keys.length);
    });
  });
});

describe('code samples against a running stack', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let appId: string;
  let secret: string;
  beforeAll(async () => {
    stack = await startStack();
    receiver = await startReceiver();
    ({ appId, secret } = await seed(stack.api, receiver.url));
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
    expect(Object.keys(answer.body.send).sort()).toEqual([...SAMPLE_LANGUAGES].sort());
    expect(Object.keys(answer.body.verify).sort()).toEqual([...SAMPLE_LANGUAGES].sort());
    // The test env's PUBLIC_URL, the first event type of the app by name, and the asked version.
    expect(answer.body).toEqual(codeSamples({ baseUrl: 'http://openhooks.test/api/v1', appId, eventType: 'order.shipped', version: '2.0' }));

    const doc = await fetch(`${stack.serverUrl}/api/v1/openapi.json`).then((r) => r.json());
    const description: string = doc.paths['/apps/{app_id}/messages'].post.description;
    for (const language of SAMPLE_LANGUAGES) expect(description).toContain(codeSamples({ baseUrl: 'http://openhooks.test/api/v1', appId: 'APP_ID', eventType: 'user.created', version: '1.0' }).send[language]);
  });

  it('renders the real base URL and app id and never the API key', () => {
    const samples = samplesFor();
    for (const lang of SAMPLE_LANGUAGES) {
      expect(samples.send[lang], lang).toContain(`${stack.serverUrl}/api/v1/apps/${appId}/messages`);
      expect(samples.send[lang], lang).not.toContain(stack.apiKey);
      expect(samples.verify[lang], lang).not.toContain(stack.apiKey);
    }
  });

  describe('send samples deliver a message', () => {
    it.for(SAMPLE_LANGUAGES)('%s', { timeout: 180_000 }, async (lang, ctx) => {
      requireTools(ctx, 'send', lang);
      const sample = samplesFor().send[lang];

      // Without the key in the environment nothing is accepted.
      const count = await messageCount();
      const refused = await runSend(lang, sample);
      expect(`${refused.stdout}${refused.stderr}`, `${lang} without ${API_KEY_ENV}`).toMatch(new RegExp(`401|unauthorized|${API_KEY_ENV}`));
      expect(await messageCount()).toBe(count);

      const result = await runSend(lang, sample, stack.apiKey);
      expect(result.code, `${lang} send failed:\n${result.stderr}${result.stdout}`).toBe(0);
      expect(result.stdout).toMatch(/202/);
      const id = messageIdIn(result.stdout);
      expect(id, `a message id in the output of ${lang}:\n${result.stdout}`).toBeDefined();

      const delivered = await waitFor(`delivery of ${id}`, () => receiver.requests.find((r) => (JSON.parse(r.body) as { id: string }).id === id));
      expect(JSON.parse(delivered.body)).toMatchObject({ id, type: 'user.created', version: '1.0', data: SAMPLE_DATA });

      const listed = await stack.api.get(`/apps/${appId}/messages`);
      expect(listed.status).toBe(200);
      expect(listed.body.find((m: { id: string }) => m.id === id)).toMatchObject({ id, event_type: 'user.created', version: '1.0', data: SAMPLE_DATA });
      expect(await messageCount()).toBe(count + 1);
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

