import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.ts';

describe('loadConfig', () => {
  it('has the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.retry).toEqual({ initialIntervalMs: 60_000, backoffCoefficient: 4, maximumAttempts: 5 });
    expect(config.deliveryTimeoutMs).toBe(15_000);
    expect(config.allowPrivateNetwork).toBe(false);
    expect(config.temporal.namespace).toBe('default');
    expect(config.temporal.taskQueue).toBe('openhooks');
    // npm start's embedded services: the usual Temporal ports, any free port for Postgres.
    expect(config.embedded).toEqual({ temporalPort: 7233, temporalUiPort: 8233, postgresPort: 0 });
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ RETRY_MAXIMUM_ATTEMPTS: '  ', TEMPORAL_NAMESPACE: '' }).retry.maximumAttempts).toBe(5);
    expect(loadConfig({ TEMPORAL_NAMESPACE: '' }).temporal.namespace).toBe('default');
  });

  it('reads given values', () => {
    const config = loadConfig({
      RETRY_INITIAL_INTERVAL: '30s',
      RETRY_BACKOFF_COEFFICIENT: '2.5',
      RETRY_MAXIMUM_ATTEMPTS: '8',
      DELIVERY_TIMEOUT: '2s',
      ALLOW_PRIVATE_NETWORK: 'yes',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TASK_QUEUE: 'hooks',
      TEMPORAL_DEV_PORT: '17233',
      TEMPORAL_UI_PORT: '18233',
      EMBEDDED_POSTGRES_PORT: '15432',
    });
    expect(config.embedded).toEqual({ temporalPort: 17233, temporalUiPort: 18233, postgresPort: 15432 });
    expect(config.retry).toEqual({ initialIntervalMs: 30_000, backoffCoefficient: 2.5, maximumAttempts: 8 });
    expect(config.deliveryTimeoutMs).toBe(2000);
    expect(config.allowPrivateNetwork).toBe(true);
    expect(config.temporal).toMatchObject({ namespace: 'prod', taskQueue: 'hooks' });
  });

  it('reports every bad variable at once, one message each, naming the variable', () => {
    const bad = {
      PORT: 'eighty',
      RETRY_INITIAL_INTERVAL: 'soon',
      RETRY_BACKOFF_COEFFICIENT: '0.5',
      RETRY_MAXIMUM_ATTEMPTS: '0',
      DELIVERY_TIMEOUT: '-1s',
      ALLOW_PRIVATE_NETWORK: 'maybe',
      DATABASE_URL: 'mysql://localhost/db',
      TEMPORAL_ADDRESS: 'no port',
      LOG_LEVEL: 'loud',
      TEMPORAL_DEV_PORT: '0',
      EMBEDDED_POSTGRES_PORT: '70000',
    };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    const names = Object.keys(bad);
    expect(problems).toHaveLength(names.length);
    for (const name of names) {
      expect(problems.filter((p) => new RegExp(`\\b${name}\\b`).test(p)), name).toHaveLength(1);
    }
    expect((error as ConfigError).message).toContain('RETRY_MAXIMUM_ATTEMPTS');
  });

  it('keeps payloads 30 days unless RETENTION says otherwise, from a second to ten years', () => {
    expect(loadConfig({}).retentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ RETENTION: '7d' }).retentionMs).toBe(7 * 86_400_000);
    expect(loadConfig({ RETENTION: '2s' }).retentionMs).toBe(2_000);
    for (const bad of ['0s', '500ms', '3651d', 'a month']) {
      expect(() => loadConfig({ RETENTION: bad }), bad).toThrow(/RETENTION=.* must be a duration from 1s to 3650d/);
    }
  });

  it('trusts X-Forwarded-For from loopback proxies unless TRUST_PROXY names others (Express names, addresses or CIDRs)', () => {
    expect(loadConfig({}).trustProxy).toEqual(['loopback']);
    expect(loadConfig({ TRUST_PROXY: 'uniquelocal, 10.0.0.0/8,192.0.2.7, ::1' }).trustProxy).toEqual(['uniquelocal', '10.0.0.0/8', '192.0.2.7', '::1']);
    for (const bad of ['everyone', '10.0.0.0/33', 'loopback,proxy.internal']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY: .* is not a CIDR .*or one of loopback, linklocal, uniquelocal/);
    }
  });

  it('reads the metrics settings: none by default, the ports and the token when given, each bad value named', () => {
    expect(loadConfig({}).metrics).toEqual({ port: undefined, token: undefined, temporalPort: undefined });
    const token = 'a'.repeat(16);
    expect(loadConfig({ METRICS_PORT: '0', METRICS_TOKEN: token, TEMPORAL_METRICS_PORT: '9465' }).metrics).toEqual({ port: 0, token, temporalPort: 9465 });
    expect(loadConfig({ METRICS_PORT: '9100' }).metrics.port).toBe(9100);
    for (const [name, value, message] of [
      ['METRICS_PORT', '70000', /METRICS_PORT=70000 must be a whole number from 0 to 65535/],
      ['TEMPORAL_METRICS_PORT', '0', /TEMPORAL_METRICS_PORT=0 must be a whole number from 1 to 65535/],
      ['METRICS_TOKEN', 'short', /METRICS_TOKEN must be at least 16 printable characters/],
      ['METRICS_TOKEN', 'has a space in it, long enough', /METRICS_TOKEN must be at least 16 printable characters/],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(message);
    }
    expect(() => loadConfig({ METRICS_PORT: '9464', TEMPORAL_METRICS_PORT: '9464' })).toThrow(/METRICS_PORT and TEMPORAL_METRICS_PORT are both 9464/);
  });
});
