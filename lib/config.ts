import { isIP } from 'node:net';
import { formatDuration, parseDuration } from './duration.ts';
import { parseCidrs } from './network.ts';

/** Everything openhooks reads from its environment, validated once at start. */
export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    apiKey: string | undefined;
    tls: boolean;
  };
  smtpUrl: string | undefined;
  mailFrom: string;
  encryptionKey: string | undefined;
  /** Older keys, still read so that ENCRYPTION_KEY can rotate. */
  previousEncryptionKeys: string[];
  retry: { initialIntervalMs: number; backoffCoefficient: number; maximumAttempts: number };
  deliveryTimeoutMs: number;
  allowPrivateNetwork: boolean;
  /** CIDRs deliveries may reach although they are private or reserved. */
  allowedNetworks: string[];
  /** Plain http:// endpoints allowed (https only otherwise). */
  allowHttp: boolean;
  maxSubscribersPerApp: number;
  maxEndpointsPerSubscriber: number;
  reconcileIntervalMs: number;
  /** Deliveries one endpoint's replay has in flight at once. */
  replayConcurrency: number;
  /** How long a rotated-out signing secret keeps signing next to the new one. */
  secretRotationOverlapMs: number;
  /** Requests per second per API key; 0 turns the limit off. */
  rateLimitPerSecond: number;
  /**
   * Proxies whose X-Forwarded-For the server believes for the client's address (login throttling,
   * logs): Express's names `loopback`, `linklocal`, `uniquelocal` and IP addresses or CIDRs.
   */
  trustProxy: string[];
  /** How long message payloads and attempt bodies are kept before the retention schedule removes them. */
  retentionMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  metrics: {
    /** The worker's /metrics and /health listener (0: any free port). Unset: WORKER_METRICS_PORT for `openhooks worker`, none for `npm start` (the server's /metrics serves the one process). */
    port: number | undefined;
    /** When set, /metrics answers only `Authorization: Bearer <token>`. */
    token: string | undefined;
    /** The Temporal SDK's own Prometheus exporter on the worker; off unless set. */
    temporalPort: number | undefined;
  };
  /** `npm start` only: ports of the embedded services it runs when TEMPORAL_ADDRESS / DATABASE_URL are unset. */
  embedded: {
    temporalPort: number;
    temporalUiPort: number;
    /** 0: any free port. */
    postgresPort: number;
  };
}

/** Where `openhooks worker` serves /metrics and /health when METRICS_PORT is unset. */
export const WORKER_METRICS_PORT = 9464;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Express's names for groups of proxy addresses (TRUST_PROXY). */
const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** Reads the configuration; every bad value is reported at once, each with its own message. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}=${raw} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const decimal = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name}=${raw} must be a number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallback: string, minMs: number, maxMs: number): number => {
    const raw = read(name) ?? fallback;
    const value = parseDuration(raw);
    if (value === undefined || value < minMs || value > maxMs) {
      problems.push(`${name}=${raw} must be a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, such as 200ms, 30s or 5m`);
      return parseDuration(fallback)!;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name}=${raw} must be true or false`);
    return fallback;
  };
  const url = (name: string, fallback: string | undefined, protocols: string[]): string | undefined => {
    const raw = read(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return fallback;
    }
  };
  const oneOf = <T extends string>(name: string, fallback: T, values: readonly T[]): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw)) {
      problems.push(`${name}=${raw} must be one of ${values.join(', ')}`);
      return fallback;
    }
    return raw as T;
  };

  const cidrs = (name: string): string[] => {
    const list = (read(name) ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    for (const problem of parseCidrs(list).problems) problems.push(`${name}: ${problem}`);
    return list;
  };

  const proxies = (name: string): string[] => {
    const list = (read(name) ?? 'loopback').split(',').map((p) => p.trim()).filter(Boolean);
    const cidrs = list.filter((p) => !PROXY_NAMES.includes(p)).map((p) => (p.includes('/') ? p : `${p}/${isIP(p) === 6 ? 128 : 32}`));
    for (const problem of parseCidrs(cidrs).problems) problems.push(`${name}: ${problem}, or one of ${PROXY_NAMES.join(', ')}`);
    return list;
  };

  const port = integer('PORT', 3000, 0, 65535);
  const encryptionKey = read('ENCRYPTION_KEY');
  if (encryptionKey !== undefined && Buffer.from(encryptionKey, 'base64').length !== 32) {
    problems.push('ENCRYPTION_KEY must be 32 random bytes in base64 (openssl rand -base64 32)');
  }
  const previousEncryptionKeys = (read('ENCRYPTION_KEYS_PREVIOUS') ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  if (previousEncryptionKeys.some((k) => Buffer.from(k, 'base64').length !== 32)) {
    problems.push('ENCRYPTION_KEYS_PREVIOUS must be a comma-separated list of 32-byte keys in base64');
  }
  const temporalAddress = read('TEMPORAL_ADDRESS');
  if (temporalAddress !== undefined && !/^[\w.-]+:\d+$|^\[[\da-f:]+\]:\d+$/i.test(temporalAddress)) {
    problems.push(`TEMPORAL_ADDRESS=${temporalAddress} must be host:port, such as localhost:7233`);
  }

  const metricsToken = read('METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,}$/.test(metricsToken)) {
    problems.push('METRICS_TOKEN must be at least 16 printable characters without spaces (openssl rand -hex 32)');
  }

  const config: Config = {
    port,
    host: read('HOST') ?? '0.0.0.0',
    publicUrl: (url('PUBLIC_URL', `http://localhost:${port}`, ['http:', 'https:']) ?? '').replace(/\/+$/, ''),
    dataDir: read('DATA_DIR') ?? '.data',
    databaseUrl: url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']),
    databasePoolSize: integer('DATABASE_POOL_SIZE', 10, 1, 1000),
    temporal: {
      address: temporalAddress,
      namespace: read('TEMPORAL_NAMESPACE') ?? 'default',
      taskQueue: read('TEMPORAL_TASK_QUEUE') ?? 'openhooks',
      uiUrl: (url('TEMPORAL_UI_URL', 'http://localhost:8233', ['http:', 'https:']) ?? '').replace(/\/+$/, ''),
      apiKey: read('TEMPORAL_API_KEY'),
      tls: boolean('TEMPORAL_TLS', read('TEMPORAL_API_KEY') !== undefined),
    },
    smtpUrl: url('SMTP_URL', undefined, ['smtp:', 'smtps:']),
    mailFrom: read('MAIL_FROM') ?? 'openhooks <no-reply@localhost>',
    encryptionKey,
    previousEncryptionKeys,
    retry: {
      initialIntervalMs: duration('RETRY_INITIAL_INTERVAL', '1m', 10, 86_400_000),
      backoffCoefficient: decimal('RETRY_BACKOFF_COEFFICIENT', 4, 1, 100),
      maximumAttempts: integer('RETRY_MAXIMUM_ATTEMPTS', 5, 1, 100),
    },
    deliveryTimeoutMs: duration('DELIVERY_TIMEOUT', '15s', 100, 600_000),
    allowPrivateNetwork: boolean('ALLOW_PRIVATE_NETWORK', false),
    allowedNetworks: cidrs('ALLOWED_NETWORKS'),
    allowHttp: boolean('ALLOW_HTTP', false),
    maxSubscribersPerApp: integer('MAX_SUBSCRIBERS_PER_APP', 10_000, 1, 10_000_000),
    maxEndpointsPerSubscriber: integer('MAX_ENDPOINTS_PER_SUBSCRIBER', 20, 1, 10_000),
    reconcileIntervalMs: duration('RECONCILE_INTERVAL', '30s', 100, 3_600_000),
    replayConcurrency: integer('REPLAY_CONCURRENCY', 10, 1, 1_000),
    secretRotationOverlapMs: duration('SECRET_ROTATION_OVERLAP', '24h', 0, 30 * 86_400_000),
    rateLimitPerSecond: integer('RATE_LIMIT', 100, 0, 1_000_000),
    trustProxy: proxies('TRUST_PROXY'),
    // Down to seconds so that a test can watch a purge; up to ten years.
    retentionMs: duration('RETENTION', '30d', 1_000, 3_650 * 86_400_000),
    logLevel: oneOf('LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
    metrics: {
      port: read('METRICS_PORT') === undefined ? undefined : integer('METRICS_PORT', WORKER_METRICS_PORT, 0, 65535),
      token: metricsToken,
      // The SDK cannot tell which port it bound, so 0 is not offered.
      temporalPort: read('TEMPORAL_METRICS_PORT') === undefined ? undefined : integer('TEMPORAL_METRICS_PORT', 9465, 1, 65535),
    },
    embedded: {
      temporalPort: integer('TEMPORAL_DEV_PORT', 7233, 1, 65535),
      temporalUiPort: integer('TEMPORAL_UI_PORT', 8233, 1, 65535),
      postgresPort: integer('EMBEDDED_POSTGRES_PORT', 0, 0, 65535),
    },
  };
  if (config.metrics.port !== undefined && config.metrics.port === config.metrics.temporalPort) {
    problems.push(`METRICS_PORT and TEMPORAL_METRICS_PORT are both ${config.metrics.port}: the worker's listener and the Temporal SDK's exporter need ports of their own`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Fails with a clear message when a process needs a setting that has no default. */
export function requireSetting<T>(value: T | undefined, name: string, hint: string): T {
  if (value === undefined) throw new ConfigError([`${name} is required: ${hint}`]);
  return value;
}
