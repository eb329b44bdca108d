import { pino, type Logger } from 'pino';

/**
 * One JSON line per event (pino): info and debug on stdout, warn and error on stderr; what operators
 * grep and log shippers parse. Lines read `{"level":"info","time":"<ISO 8601>","pid":…,"hostname":…,
 * …fields,"msg":…}`.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

export interface Log {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger whose every line carries `bindings` (a request id, a delivery id…). */
  child(bindings: Fields): Log;
  /** Whether a line at `level` would be written: skip building costly fields when not. */
  enabled(level: Level): boolean;
}

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

/**
 * Keys whose values never reach a log line, at the top level and two levels down (`headers.authorization`,
 * `req.headers.authorization`): credentials, API keys, signing secrets, passwords, tokens, keys.
 * A secret inside a message text is not caught here: callers keep them out of messages.
 */
const SECRET_KEYS = [
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key',
  'apiKey', 'api_key', 'key', 'secret', 'secrets', 'signingSecret', 'previousSecret', 'previous_secret',
  'password', 'passwordHash', 'password_hash', 'token', 'accessToken', 'refreshToken',
  'encryptionKey', 'previousEncryptionKeys', 'ENCRYPTION_KEY', 'ENCRYPTION_KEYS_PREVIOUS', 'METRICS_TOKEN', 'TEMPORAL_API_KEY',
  'databaseUrl', 'DATABASE_URL', 'smtpUrl', 'SMTP_URL',
];
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return [step.startsWith('.') ? key : step, `*${step}`, `*.*${step}`];
});

/** Errors as today: name and message (a stack only where the caller logs one on purpose). */
function serializeError(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

const initial = process.env.LOG_LEVEL?.trim() ?? '';

const root: Logger = pino(
  {
    level: LEVELS.includes(initial) ? initial : 'info',
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { error: serializeError, err: serializeError },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  },
  // Written at once (no worker thread, no buffer): a line logged just before exit is not lost.
  pino.multistream(
    [
      { level: 'trace', stream: process.stdout },
      { level: 'warn', stream: process.stderr },
    ],
    { dedupe: true },
  ),
);

function wrap(logger: Logger): Log {
  return {
    debug: (msg, fields) => (fields === undefined ? logger.debug(msg) : logger.debug(fields, msg)),
    info: (msg, fields) => (fields === undefined ? logger.info(msg) : logger.info(fields, msg)),
    warn: (msg, fields) => (fields === undefined ? logger.warn(msg) : logger.warn(fields, msg)),
    error: (msg, fields) => (fields === undefined ? logger.error(msg) : logger.error(fields, msg)),
    child: (bindings) => wrap(logger.child(bindings)),
    enabled: (level) => logger.isLevelEnabled(level),
  };
}

export const log: Log = wrap(root);

/** LOG_LEVEL as the configuration validated it; children follow. */
export function setLogLevel(level: Level): void {
  root.level = level;
}
