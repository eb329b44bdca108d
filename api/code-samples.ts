/**
 * Code samples for the API documentation, pure (no I/O):
 * - `send`: one complete program per language that posts a message; `replay`: one that replays what
 *   an endpoint missed (the default range: from where its miss began until now). Every program is
 *   rendered from ONE request description (`sendRequest`, `replayRequest`) by small per-language
 *   renderers, so the URL, the ids and the JSON body are written in one place and only turned into
 *   each language's string literals.
 * - `verify`: a receiver-side function `verify(secret, headers, rawBody)` per language that accepts
 *   a delivery when its HostedHooks-Signature or any v1 entry of its webhook-signature (Standard
 *   Webhooks, one entry per active secret during rotation) signs the raw body within 5 minutes,
 *   comparing in constant time. Either header is enough: the HostedHooks header is signed with the
 *   newest secret only, so during a rotation a receiver still holding the previous secret is
 *   served by webhook-signature.
 */

export type SampleLanguage = 'curl' | 'node' | 'python' | 'ruby' | 'go' | 'php';

export const SAMPLE_LANGUAGES: readonly SampleLanguage[] = ['curl', 'node', 'python', 'ruby', 'go', 'php'];

export interface CodeSamples {
  send: Record<SampleLanguage, string>;
  replay: Record<SampleLanguage, string>;
  verify: Record<SampleLanguage, string>;
}

export interface CodeSampleOptions {
  /** The API root, e.g. `http://localhost:3000/api/v1`. */
  baseUrl: string;
  appId: string;
  eventType: string;
  version: string;
  /** The endpoint the replay program replays; ENDPOINT_ID_PLACEHOLDER when none is chosen. */
  endpointId?: string;
}

/** Stands for the endpoint id in a replay program written for no endpoint in particular. */
export const ENDPOINT_ID_PLACEHOLDER = 'ENDPOINT_ID';

/** The environment variable every program reads the API key from: samples never embed a key. */
export const API_KEY_ENV = 'OPENHOOKS_API_KEY';

/** The example `data` every send sample posts. */
export const SAMPLE_DATA = { id: 'usr_123', email: 'ada@example.com', name: 'Ada Lovelace' } as const;

/** A header value: fixed text, a prefix followed by an environment variable, or a new random key on each run. */
export type HeaderValue = { kind: 'text'; text: string } | { kind: 'env'; prefix: string; env: string } | { kind: 'random' };

/** The one request a program makes, and what the program says about itself. */
export interface SampleRequest {
  /** The program's leading comment, e.g. "Sends one message to openhooks". */
  purpose: string;
  /** The program's file name without extension, for its run hint: `send` → `node send.mjs`. */
  file: string;
  method: 'POST';
  url: string;
  headers: { name: string; value: HeaderValue }[];
  /** The JSON body, exactly as sent. */
  body: string;
}

const appUrl = (opts: CodeSampleOptions) => `${opts.baseUrl.replace(/\/+$/, '')}/apps/${encodeURIComponent(opts.appId)}`;

/** The headers of every API request: the key from the environment, a JSON body, a new Idempotency-Key. */
const apiHeaders = (): SampleRequest['headers'] => [
  { name: 'Authorization', value: { kind: 'env', prefix: 'Bearer ', env: API_KEY_ENV } },
  { name: 'content-type', value: { kind: 'text', text: 'application/json' } },
  { name: 'Idempotency-Key', value: { kind: 'random' } },
];

export function sendRequest(opts: CodeSampleOptions): SampleRequest {
  return {
    purpose: 'Sends one message to openhooks',
    file: 'send',
    method: 'POST',
    url: `${appUrl(opts)}/messages`,
    headers: apiHeaders(),
    body: JSON.stringify({ event_type: opts.eventType, version: opts.version, data: SAMPLE_DATA }),
  };
}

/** An empty body asks for the default range: from where the endpoint's miss began until now. */
export function replayRequest(opts: CodeSampleOptions): SampleRequest {
  return {
    purpose: 'Replays what one endpoint missed',
    file: 'replay',
    method: 'POST',
    url: `${appUrl(opts)}/endpoints/${encodeURIComponent(opts.endpointId ?? ENDPOINT_ID_PLACEHOLDER)}/replay`,
    headers: apiHeaders(),
    body: '{}',
  };
}

function render(request: SampleRequest): Record<SampleLanguage, string> {
  const programs = {} as Record<SampleLanguage, string>;
  for (const language of SAMPLE_LANGUAGES) programs[language] = RENDERERS[language](request).join('\n');
  return programs;
}

export function codeSamples(opts: CodeSampleOptions): CodeSamples {
  return { send: render(sendRequest(opts)), replay: render(replayRequest(opts)), verify: { ...VERIFIERS } };
}

// ---------------------------------------------------------------------------------------------
// String literals. Characters that some source files cannot hold raw (C0/C1 controls, DEL, the
// Unicode line and paragraph separators) are always written as escapes.

const hex = (code: number, width: number) => code.toString(16).padStart(width, '0');

function isSpecial(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

const hasSpecial = (s: string) => [...s].some((ch) => isSpecial(ch.codePointAt(0)!));

/** A backslash-escaped literal between `quote`s; `extra` lists further characters that need a backslash. */
function escapedLiteral(s: string, quote: string, extra: string, unicode: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\' || extra.includes(ch)) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x80 && isSpecial(code)) out += `\\x${hex(code, 2)}`;
    else if (isSpecial(code)) out += unicode(ch);
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

const u4 = (ch: string) => `\\u${hex(ch.codePointAt(0)!, 4)}`;
/** JavaScript and Python: single quotes, backslash escapes. */
const jsString = (s: string) => escapedLiteral(s, "'", '', u4);
const pyString = jsString;
/** Go: an interpreted string, or a raw string when that spares escapes (a JSON body) and can hold the text. */
const goString = (s: string) =>
  /["\\]/.test(s) && !s.includes('`') && !hasSpecial(s) ? `\`${s}\`` : escapedLiteral(s, '"', '', u4);
/** Ruby: single quotes, or double quotes with `#` escaped so that nothing interpolates. */
const rbString = (s: string) => (!hasSpecial(s) ? `'${s.replace(/[\\']/g, '\\$&')}'` : escapedLiteral(s, '"', '#', u4));
/** PHP: single quotes, or double quotes with `$` escaped so that nothing interpolates. */
const phpString = (s: string) => (!hasSpecial(s) ? `'${s.replace(/[\\']/g, '\\$&')}'` : escapedLiteral(s, '"', '$', (ch) => `\\u{${hex(ch.codePointAt(0)!, 4)}}`));
/** POSIX shell: a bare word when safe, single quotes, or bash's `$'…'` (UTF-8 bytes, whatever the locale) for special characters. */
function shWord(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  if (!hasSpecial(s)) return `'${s.replace(/'/g, `'\\''`)}'`;
  return `$${escapedLiteral(s, "'", '', (ch) => [...new TextEncoder().encode(ch)].map((b) => `\\x${hex(b, 2)}`).join(''))}`;
}

/** A shell word made of literal text and expansions (`$VAR`, `$(…)`), as one double-quoted word when possible. */
function shConcat(parts: ({ text: string } | { expand: string })[]): string {
  const texts = parts.flatMap((p) => ('text' in p ? [p.text] : []));
  if (texts.length === parts.length) return shWord(texts.join(''));
  if (!texts.some(hasSpecial)) {
    return `"${parts.map((p) => ('text' in p ? p.text.replace(/[\\"$`]/g, '\\$&') : p.expand)).join('')}"`;
  }
  return parts.map((p) => ('text' in p ? shWord(p.text) : `"${p.expand}"`)).join('');
}

/** `prefix + expression` in a language, leaving out an empty prefix. */
const concat = (prefix: string, literal: (s: string) => string, op: string, expression: string) =>
  prefix === '' ? expression : `${literal(prefix)}${op}${expression}`;

const envNames = (r: SampleRequest) => [...new Set(r.headers.flatMap((h) => (h.value.kind === 'env' ? [h.value.env] : [])))];
const needsRandom = (r: SampleRequest) => r.headers.some((h) => h.value.kind === 'random');
const runHint = (command: string) => `Run: ${API_KEY_ENV}=<your API key> ${command}`;

// ---------------------------------------------------------------------------------------------
// Renderers: SampleRequest → lines of one program that makes the request and prints the status and body.

type Renderer = (r: SampleRequest) => string[];

const RENDERERS: Record<SampleLanguage, Renderer> = {
  curl(r) {
    const header = (name: string, v: HeaderValue) =>
      v.kind === 'text' ? shWord(`${name}: ${v.text}`)
      : v.kind === 'env' ? shConcat([{ text: `${name}: ${v.prefix}` }, { expand: `$${v.env}` }])
      : shConcat([{ text: `${name}: ` }, { expand: '$(uuidgen 2>/dev/null || cat /proc/sys/kernel/random/uuid)' }]);
    return [
      `# ${r.purpose} with curl. Run it with ${API_KEY_ENV} set to your API key.`,
      ...envNames(r).map((env) => `: "\${${env}:?set ${env} to your openhooks API key}"`),
      `curl -sS -i -w '\\n' -X ${shWord(r.method)} ${shWord(r.url)} \\`,
      ...r.headers.map((h) => `  -H ${header(h.name, h.value)} \\`),
      `  --data-raw ${shWord(r.body)}`,
    ];
  },

  node(r) {
    const value = (v: HeaderValue) =>
      v.kind === 'text' ? jsString(v.text) : v.kind === 'env' ? concat(v.prefix, jsString, ' + ', `process.env.${v.env}`) : 'randomUUID()';
    return [
      `// ${r.purpose} (Node.js 18+, no dependencies). ${runHint(`node ${r.file}.mjs`)}`,
      ...(needsRandom(r) ? ["import { randomUUID } from 'node:crypto';", ''] : []),
      `const response = await fetch(${jsString(r.url)}, {`,
      `  method: ${jsString(r.method)},`,
      '  headers: {',
      ...r.headers.map((h) => `    ${jsString(h.name)}: ${value(h.value)},`),
      '  },',
      `  body: ${jsString(r.body)},`,
      '});',
      'console.log(response.status, await response.text());',
    ];
  },

  python(r) {
    const value = (v: HeaderValue) =>
      v.kind === 'text' ? pyString(v.text) : v.kind === 'env' ? concat(v.prefix, pyString, ' + ', `os.environ[${pyString(v.env)}]`) : 'str(uuid.uuid4())';
    const modules = ['urllib.error', 'urllib.request', ...(envNames(r).length > 0 ? ['os'] : []), ...(needsRandom(r) ? ['uuid'] : [])].sort();
    return [
      `# ${r.purpose} (Python 3, standard library only). ${runHint(`python3 ${r.file}.py`)}`,
      `import ${modules.join(', ')}`,
      '',
      'request = urllib.request.Request(',
      `    ${pyString(r.url)},`,
      `    method=${pyString(r.method)},`,
      '    headers={',
      ...r.headers.map((h) => `        ${pyString(h.name)}: ${value(h.value)},`),
      '    },',
      `    data=${pyString(r.body)}.encode('utf-8'),`,
      ')',
      'try:',
      '    with urllib.request.urlopen(request) as response:',
      "        print(response.status, response.read().decode('utf-8'))",
      'except urllib.error.HTTPError as error:',
      "    print(error.code, error.read().decode('utf-8'))",
    ];
  },

  ruby(r) {
    const value = (v: HeaderValue) =>
      v.kind === 'text' ? rbString(v.text) : v.kind === 'env' ? concat(v.prefix, rbString, ' + ', `ENV.fetch(${rbString(v.env)})`) : 'SecureRandom.uuid';
    return [
      `# ${r.purpose} (Ruby, standard library only). ${runHint(`ruby ${r.file}.rb`)}`,
      "require 'net/http'",
      ...(needsRandom(r) ? ["require 'securerandom'"] : []),
      '',
      `uri = URI(${rbString(r.url)})`,
      `request = Net::HTTP::${r.method.charAt(0)}${r.method.slice(1).toLowerCase()}.new(uri)`,
      ...r.headers.map((h) => `request[${rbString(h.name)}] = ${value(h.value)}`),
      `request.body = ${rbString(r.body)}`,
      "response = Net::HTTP.start(uri.hostname, uri.port, use_ssl: uri.scheme == 'https') { |http| http.request(request) }",
      'puts "#{response.code} #{response.body}"',
    ];
  },

  go(r) {
    const value = (v: HeaderValue) =>
      v.kind === 'text' ? goString(v.text) : v.kind === 'env' ? concat(v.prefix, goString, '+', `os.Getenv(${goString(v.env)})`) : 'rand.Text()';
    const imports = ['net/http', 'os', 'strings', ...(needsRandom(r) ? ['crypto/rand'] : [])].sort();
    return [
      `// ${r.purpose} (Go 1.24+, standard library only). ${runHint(`go run ${r.file}.go`)}`,
      'package main',
      'import (',
      ...imports.map((name) => `\t"${name}"`),
      ')',
      'func main() {',
      `\treq, _ := http.NewRequest(${goString(r.method)}, ${goString(r.url)}, strings.NewReader(${goString(r.body)}))`,
      ...r.headers.map((h) => `\treq.Header.Set(${goString(h.name)}, ${value(h.value)})`),
      '\tres, err := http.DefaultClient.Do(req)',
      '\tif err != nil {',
      '\t\tpanic(err)',
      '\t}',
      '\tres.Write(os.Stdout)',
      '}',
    ];
  },

  php(r) {
    const header = (name: string, v: HeaderValue) =>
      v.kind === 'text' ? phpString(`${name}: ${v.text}`)
      : v.kind === 'env' ? `${phpString(`${name}: ${v.prefix}`)} . getenv(${phpString(v.env)})`
      : `${phpString(`${name}: `)} . bin2hex(random_bytes(16))`;
    return [
      '<?php',
      `// ${r.purpose} (PHP, no extensions needed). ${runHint(`php ${r.file}.php`)}`,
      "$context = stream_context_create(['http' => [",
      `    'method' => ${phpString(r.method)},`,
      "    'header' => [",
      ...r.headers.map((h) => `        ${header(h.name, h.value)},`),
      '    ],',
      `    'content' => ${phpString(r.body)},`,
      "    'ignore_errors' => true,",
      ']]);',
      `$stream = fopen(${phpString(r.url)}, 'r', false, $context);`,
      // The status line is the first of the wrapper's headers (no $http_response_header: deprecated in PHP 8.5).
      "echo stream_get_meta_data($stream)['wrapper_data'][0], ' ', stream_get_contents($stream), \"\\n\";",
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Verify snippets: the same function in every language. Headers are read by lowercase name.

const VERIFIERS: Record<SampleLanguage, string> = {
  curl: [
    '# verify SECRET HOSTEDHOOKS_SIGNATURE WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE BODY_FILE   (bash + openssl)',
    '# Succeeds when HostedHooks-Signature or any webhook-signature v1 entry signs the exact request body saved in BODY_FILE.',
    'verify() {',
    '  local secret=$1 hh=$2 id=$3 ts=$4 sigs=$5 body=$6 now t s key expected sig',
    '  now=$(date +%s)',
    '  verify_fresh() { [[ $1 =~ ^[1-9][0-9]{0,11}$ ]] && (( now - $1 <= 300 && $1 - now <= 300 )); }',
    '  verify_same() { [ "$(printf %s "$1" | openssl dgst -sha256)" = "$(printf %s "$2" | openssl dgst -sha256)" ]; } # constant time: compares digests',
    '  if [[ $hh =~ ^t=([0-9]+),s=([0-9a-f]+)$ ]]; then',
    '    t=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}',
    '    expected=$({ printf %s "$t."; cat "$body"; } | openssl dgst -sha256 -hmac "$secret" | sed \'s/^.*= //\')',
    '    verify_fresh "$t" && verify_same "$s" "$expected" && return 0',
    '  fi',
    '  verify_fresh "$ts" || return 1',
    "  key=$(printf %s \"${secret#whsec_}\" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \\n')",
    '  expected=v1,$({ printf %s "$id.$ts."; cat "$body"; } | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | openssl base64 -A)',
    '  for sig in $sigs; do verify_same "$sig" "$expected" && return 0; done',
    '  return 1',
    '}',
  ].join('\n'),

  node: String.raw`import { createHmac, timingSafeEqual } from 'node:crypto';

// verify(secret, headers, rawBody): true when HostedHooks-Signature or any webhook-signature v1 entry signs rawBody.
// headers: lowercase names, as in Node's req.headers; rawBody: the exact request body, a string or Buffer.
export function verify(secret, headers, rawBody) {
  const fresh = (t) => /^\d+$/.test(t ?? '') && Math.abs(Date.now() / 1000 - Number(t)) <= 300;
  const same = (a, b) => Buffer.byteLength(a) === Buffer.byteLength(b) && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  const hmac = (key, prefix) => createHmac('sha256', key).update(prefix).update(rawBody);
  const [, t, s] = /^t=(\d+),s=([0-9a-f]+)$/.exec(headers['hostedhooks-signature'] ?? '') ?? [];
  if (fresh(t) && same(s, hmac(secret, t + '.').digest('hex'))) return true;
  const id = headers['webhook-id'] ?? '';
  const ts = headers['webhook-timestamp'];
  if (!id || !fresh(ts)) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = 'v1,' + hmac(key, id + '.' + ts + '.').digest('base64');
  return (headers['webhook-signature'] ?? '').split(' ').some((sig) => same(sig, expected));
}`,

  python: String.raw`import base64, hashlib, hmac, re, time

# verify(secret, headers, raw_body): True when HostedHooks-Signature or any webhook-signature v1 entry signs raw_body.
# headers: lowercase names (a dict, or Flask/Django request.headers); raw_body: the exact request body, bytes or str.
def verify(secret, headers, raw_body):
    body = raw_body.encode('utf-8') if isinstance(raw_body, str) else raw_body
    fresh = lambda t: t.isascii() and t.isdigit() and abs(time.time() - int(t)) <= 300
    sign = lambda key, message: hmac.new(key, message, hashlib.sha256).digest()
    m = re.fullmatch(r't=([0-9]+),s=([0-9a-f]+)', headers.get('hostedhooks-signature', ''))
    if m and fresh(m[1]) and hmac.compare_digest(m[2], sign(secret.encode(), m[1].encode() + b'.' + body).hex()):
        return True
    msg_id, ts = headers.get('webhook-id', ''), headers.get('webhook-timestamp', '')
    if not msg_id or not fresh(ts):
        return False
    key = base64.b64decode(secret.removeprefix('whsec_'))
    expected = b'v1,' + base64.b64encode(sign(key, f'{msg_id}.{ts}.'.encode() + body))
    return any(hmac.compare_digest(sig.encode(), expected) for sig in headers.get('webhook-signature', '').split(' '))`,

  ruby: String.raw`require 'openssl'

# verify(secret, headers, raw_body): true when HostedHooks-Signature or any webhook-signature v1 entry signs raw_body.
# headers: a Hash with lowercase names; raw_body: the exact request body (request.raw_post in Rails, request.body.read in Rack).
def verify(secret, headers, raw_body)
  fresh = ->(t) { t.to_s.match?(/\A\d+\z/) && (Time.now.to_i - t.to_i).abs <= 300 }
  t, s = headers['hostedhooks-signature'].to_s.match(/\At=(\d+),s=([0-9a-f]+)\z/)&.captures
  return true if fresh.(t) && OpenSSL.secure_compare(s, OpenSSL::HMAC.hexdigest('SHA256', secret, "#{t}.".b + raw_body.b))

  id = headers['webhook-id'].to_s
  ts = headers['webhook-timestamp'].to_s
  return false if id.empty? || !fresh.(ts)

  key = secret.delete_prefix('whsec_').unpack1('m')
  expected = 'v1,' + [OpenSSL::HMAC.digest('SHA256', key, "#{id}.#{ts}.".b + raw_body.b)].pack('m0')
  headers['webhook-signature'].to_s.split(' ').any? { |sig| OpenSSL.secure_compare(sig, expected) }
end`,

  go: String.raw`// verify reports whether HostedHooks-Signature or any webhook-signature v1 entry signs rawBody (paste below your package clause).
import ("crypto/hmac"; "crypto/sha256"; "encoding/base64"; "encoding/hex"; "net/http"; "strconv"; "strings"; "time")

func verify(secret string, headers http.Header, rawBody []byte) bool {
	sign := func(key []byte, msg string) []byte { m := hmac.New(sha256.New, key); m.Write([]byte(msg)); return m.Sum(nil) }
	t, s, _ := strings.Cut(strings.TrimPrefix(headers.Get("HostedHooks-Signature"), "t="), ",s=")
	id, ts := headers.Get("webhook-id"), headers.Get("webhook-timestamp")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	checks := [][3]string{{t, s, hex.EncodeToString(sign([]byte(secret), t+"."+string(rawBody)))}} // {timestamp, got, want}
	for _, sig := range strings.Fields(headers.Get("webhook-signature")) {
		checks = append(checks, [3]string{ts, sig, "v1," + base64.StdEncoding.EncodeToString(sign(key, id+"."+ts+"."+string(rawBody)))})
	}
	for _, c := range checks {
		if n, err := strconv.ParseInt(c[0], 10, 64); err == nil && time.Since(time.Unix(n, 0)).Abs() <= 5*time.Minute && hmac.Equal([]byte(c[1]), []byte(c[2])) {
			return true
		}
	}
	return false
}`,

  php: String.raw`<?php
// verify($secret, $headers, $rawBody): true when HostedHooks-Signature or any webhook-signature v1 entry signs $rawBody.
// $headers: lowercase names => values, e.g. array_change_key_case(getallheaders()); $rawBody: file_get_contents('php://input').
function verify(string $secret, array $headers, string $rawBody): bool
{
    $fresh = fn ($t) => preg_match('/\A\d+\z/', $t) === 1 && abs(time() - (int) $t) <= 300;
    $hh = $headers['hostedhooks-signature'] ?? '';
    if (preg_match('/\At=(\d+),s=([0-9a-f]+)\z/', $hh, $m) === 1 && $fresh($m[1])
        && hash_equals(hash_hmac('sha256', $m[1] . '.' . $rawBody, $secret), $m[2])) {
        return true;
    }
    $id = $headers['webhook-id'] ?? '';
    $ts = $headers['webhook-timestamp'] ?? '';
    $key = base64_decode(preg_replace('/\Awhsec_/', '', $secret));
    $expected = 'v1,' . base64_encode(hash_hmac('sha256', $id . '.' . $ts . '.' . $rawBody, $key, true));
    $signatures = explode(' ', $headers['webhook-signature'] ?? '');
    return $id !== '' && $fresh($ts) && count(array_filter($signatures, fn ($sig) => hash_equals($expected, $sig))) > 0;
}`,
};
