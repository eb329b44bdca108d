import { Router } from 'express';
import type { Db } from '../db/connection.ts';
import type { Config } from '../lib/config.ts';
import { PORTAL_LINK_KEY_PURPOSE } from '../lib/portal-links.ts';
import type { SecretBox } from '../lib/secrets.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { apiKeysRouter } from './api-keys.ts';
import { codeSamples, SAMPLE_LANGUAGES, type CodeSamples } from './code-samples.ts';
import type { DeliveryStarts } from './delivery-starts.ts';
import { appsRouter } from './apps.ts';
import { attemptsRouter } from './attempts.ts';
import { authenticate, type TrustedKeys } from './auth.ts';
import { endpointsRouter } from './endpoints.ts';
import { errorHandler, jsonBody, routeNotFound } from './errors.ts';
import { eventTypesRouter } from './event-types.ts';
import { healthRouter } from './health.ts';
import { messagesRouter } from './messages.ts';
import { openApiDocument } from './openapi.ts';
import { rateLimitPerKey } from './rate-limit.ts';
import { replaysRouter } from './replays.ts';
import { ApiSpec, type Operation } from './route.ts';
import { subscribersRouter } from './subscribers.ts';

export const API_VERSION = '1.0.0';

export interface ApiDeps {
  db: Db;
  starts: DeliveryStarts;
  temporal: TemporalGateway;
  secrets: SecretBox;
  config: Pick<Config, 'publicUrl' | 'secretRotationOverlapMs' | 'rateLimitPerSecond' | 'allowPrivateNetwork' | 'allowedNetworks' | 'allowHttp' | 'maxSubscribersPerApp' | 'maxEndpointsPerSubscriber'>;
  /** The process's verified API keys; the portal shares it, so a key it revokes is refused here at once. */
  trustedKeys: TrustedKeys;
}

/** The REST API mounted at /api/v1: one router per resource; all but health and the document need an API key. */
export function createApi(deps: ApiDeps): { router: Router; spec: ApiSpec } {
  const { db } = deps;
  const spec = new ApiSpec();
  const api = Router();

  api.use(healthRouter(db, spec, deps.temporal));
  let document: unknown;
  api.get('/openapi.json', (_req, res) => {
    document ??= openApiDocument(spec, { serverUrl: `${deps.config.publicUrl}/api/v1`, version: API_VERSION, describe: describeWithSamples(`${deps.config.publicUrl}/api/v1`) });
    res.json(document);
  });

  const { trustedKeys } = deps;
  api.use(authenticate(db, trustedKeys));
  api.use(rateLimitPerKey(deps.config.rateLimitPerSecond));
  // Messages parse their own bodies with the smaller limit; everything else gets 1 MiB.
  api.use(messagesRouter(db, spec, deps.starts, deps.config.publicUrl));
  api.use(jsonBody('1mb'));
  api.use(appsRouter(db, spec));
  api.use(eventTypesRouter(db, spec));
  api.use(subscribersRouter(db, spec, { maxSubscribersPerApp: deps.config.maxSubscribersPerApp, publicUrl: deps.config.publicUrl, portalLinkKey: deps.secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE) }));
  api.use(endpointsRouter(db, spec, { secrets: deps.secrets, rotationOverlapMs: deps.config.secretRotationOverlapMs, network: deps.config, maxEndpointsPerSubscriber: deps.config.maxEndpointsPerSubscriber }));
  api.use(attemptsRouter(db, spec, deps.starts));
  api.use(replaysRouter(db, spec, deps.starts));
  api.use(apiKeysRouter(db, spec, trustedKeys));
  api.use(routeNotFound);
  api.use(errorHandler);
  return { router: api, spec };
}

const FENCE: Record<string, string> = { curl: 'sh', node: 'js', python: 'python', ruby: 'ruby', go: 'go', php: 'php' };

function markdownSamples(title: string, samples: CodeSamples['send']): string {
  return [`### ${title}`, ...SAMPLE_LANGUAGES.map((l) => `**${l}**\n\n\`\`\`${FENCE[l]}\n${samples[l]}\n\`\`\``)].join('\n\n');
}

/** The generated programs shown under the operations they call: sending (with verifying, receiver side) and replaying. */
function describeWithSamples(baseUrl: string): (op: Operation) => string | undefined {
  const samples = codeSamples({ baseUrl, appId: 'APP_ID', eventType: 'user.created', version: '1.0' });
  const byOperation: Record<string, string> = {
    'post /apps/:app_id/messages': [
      'GET /apps/{app_id}/code_samples returns these with your app id filled in.',
      markdownSamples('Send a message', samples.send),
      markdownSamples('Verify a delivery (receiver side)', samples.verify),
    ].join('\n\n'),
    'post /apps/:app_id/endpoints/:endpoint_id/replay': [
      'GET /apps/{app_id}/code_samples?endpoint_id={endpoint_id} returns these with your app and endpoint ids filled in.',
      markdownSamples('Replay what an endpoint missed (the default range: from where its miss began until now)', samples.replay),
    ].join('\n\n'),
  };
  return (op) => byOperation[`${op.method} ${op.path}`];
}
