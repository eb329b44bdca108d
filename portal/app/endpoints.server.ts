import { createHash } from 'node:crypto';
import type { AppLoadContext } from '@remix-run/node';
import type { z } from 'zod';
import { EndpointIn, EndpointPatch, endpointRules } from '../../api/endpoints.ts';
import { ApiError } from '../../api/errors.ts';
import { endpointErrorRates } from '../../db/attempts.ts';
import type { App, Endpoint, Subscriber } from '../../db/database.ts';
import { updateEndpoint } from '../../db/endpoints.ts';
import { eventTypesOf } from '../../db/event-types.ts';
import { acceptMessage } from '../../db/messages.ts';
import { fieldErrors } from './apps.server';
import { receivedEventTypes } from './components/endpoint-fields';
import { formText } from './forms.server';

// Endpoint forms as the provider's subscriber page and the subscriber portal both handle them: the
// API's rules and checks (api/endpoints.ts), with the errors placed beside the form's fields.

/** The API's endpoint rules, with this server's settings, as api/index.ts builds them. */
export function endpointRulesOf(context: AppLoadContext) {
  const { config } = context;
  return endpointRules({ secrets: context.secrets, rotationOverlapMs: config.secretRotationOverlapMs, network: config, maxEndpointsPerSubscriber: config.maxEndpointsPerSubscriber });
}

/** An endpoint as its pages show it, with its error rate over 24 h (null: no attempts). */
export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  version: string;
  status: Endpoint['status'];
  enabledEvents: Endpoint['enabled_events'];
  errorRate: number | null;
  disabledReason: string | null;
  disabledAt: string | null;
}

export async function endpointViews(context: AppLoadContext, endpoints: readonly Endpoint[]): Promise<EndpointView[]> {
  const rates = await endpointErrorRates(context.db, endpoints.map((e) => e.id));
  return endpoints.map((e) => ({
    id: e.id,
    url: e.url,
    description: e.description,
    version: e.version,
    status: e.status,
    enabledEvents: e.enabled_events,
    // Absent: no attempts in the last 24 hours.
    errorRate: rates.get(e.id) ?? null,
    disabledReason: e.disabled_reason,
    disabledAt: e.disabled_at?.toISOString() ?? null,
  }));
}

/** A form that was refused: its errors by field (or `form`), what was typed, and the status to answer. */
export interface RefusedForm {
  ok: false;
  status: number;
  errors: Record<string, string>;
  values: Record<string, string | string[]>;
}

/** An ApiError of the API's checks as form errors: beside the field it names, else about the form. */
function apiErrors(error: ApiError): Record<string, string> {
  const fields = error.details?.map((detail) => detail.field) ?? [];
  return fields.length > 0 ? Object.fromEntries(fields.map((field) => [field, error.message])) : { form: error.message };
}

/** Zod issues of enabled_events name an index (enabled_events.0); the form has one control group for them. */
function endpointFieldErrors(error: z.ZodError): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [key, message] of Object.entries(fieldErrors(error))) errors[key.startsWith('enabled_events') ? 'enabled_events' : key] ??= message;
  return errors;
}

/** The endpoint form's fields (components/endpoint-fields.tsx) as typed, and as the API's body. */
export function endpointForm(form: FormData) {
  const values = {
    url: formText(form, 'url'),
    description: formText(form, 'description'),
    version: formText(form, 'version'),
    events_mode: formText(form, 'events_mode') === 'some' ? 'some' : 'all',
    events: form.getAll('events').filter((value): value is string => typeof value === 'string'),
  };
  const body = { url: values.url, description: values.description || null, version: values.version, enabled_events: values.events_mode === 'all' ? ('*' as const) : values.events };
  return { values, body };
}

/** Runs one of the API's endpoint checks; its 422 becomes a refused form with the typed values. */
async function withApiChecks<T>(values: RefusedForm['values'], run: () => Promise<T>): Promise<{ ok: true; value: T } | RefusedForm> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return { ok: false, status: 422, errors: apiErrors(error), values };
    throw error;
  }
}

/** Creates an endpoint from the endpoint form, as POST /subscriptions/:id/endpoints does. */
export async function createEndpointFromForm(context: AppLoadContext, app: App, subscriber: Subscriber, form: FormData): Promise<{ ok: true; endpoint: Endpoint } | RefusedForm> {
  const { values, body } = endpointForm(form);
  const parsed = EndpointIn.safeParse(body);
  if (!parsed.success) return { ok: false, status: 400, errors: endpointFieldErrors(parsed.error), values };
  const rules = endpointRulesOf(context);
  const created = await withApiChecks(values, () => context.db.transaction().execute((trx) => rules.create(trx, app, subscriber, parsed.data)));
  return created.ok ? { ok: true, endpoint: created.value.endpoint } : created;
}

/**
 * Changes an endpoint as PATCH …/endpoints/:id does: `body` is the endpoint form's (see endpointForm)
 * or a status alone; `disabledReason` is recorded when this disables it.
 */
export async function changeEndpoint(
  context: AppLoadContext,
  appId: string,
  endpoint: Endpoint,
  edited: { values: RefusedForm['values']; body: unknown },
  disabledReason: string,
): Promise<{ ok: true; endpoint: Endpoint } | RefusedForm> {
  const parsed = EndpointPatch.safeParse(edited.body);
  if (!parsed.success) return { ok: false, status: 400, errors: endpointFieldErrors(parsed.error), values: edited.values };
  const rules = endpointRulesOf(context);
  const changed = await withApiChecks(edited.values, async () => updateEndpoint(context.db, endpoint.id, await rules.changes(context.db, appId, endpoint, parsed.data, disabledReason)));
  return changed.ok ? { ok: true, endpoint: changed.value } : changed;
}

/** Accepts a test message for this one endpoint as the API's send does, then starts its delivery as the API does after its 202. */
export async function sendTestMessage(
  context: AppLoadContext,
  app: Pick<App, 'id' | 'account_id'>,
  endpoint: Endpoint,
  chosen: string,
): Promise<{ ok: true; message: { id: string; deliveries: number; sent: boolean } } | RefusedForm> {
  const received = receivedEventTypes(endpoint.enabled_events, (await eventTypesOf(context.db, app.id)).map((et) => et.name));
  const eventType = chosen || received[0];
  if (!eventType || !received.includes(eventType)) {
    const error = received.length === 0 ? 'This endpoint receives none of the app’s event types. Add an event type, or enable one for this endpoint, first.' : `This endpoint does not receive ${eventType}.`;
    return { ok: false, status: 400, errors: { event_type: error }, values: { event_type: chosen } };
  }
  const body = { event_type: eventType, version: endpoint.version, data: { test: true, sent_from: 'portal' } };
  const result = await acceptMessage(context.db, {
    accountId: app.account_id,
    appId: app.id,
    subscriberId: endpoint.subscriber_id,
    endpointId: endpoint.id,
    eventType,
    version: endpoint.version,
    data: body.data,
    eventId: null,
    overridePayload: false,
    idempotencyKey: null,
    // What the API would hash for this send; it matters only with an Idempotency-Key, which a test message has none of.
    requestHash: createHash('sha256').update(JSON.stringify(['POST', `/subscriptions/${endpoint.subscriber_id}/endpoints/${endpoint.id}/messages`, body])).digest('hex'),
  });
  if (result.kind !== 'created') {
    return { ok: false, status: 409, errors: { event_type: result.kind === 'unknown_event_type' ? `${eventType} no longer exists in this app.` : 'The message was not accepted; reload and try again.' }, values: { event_type: eventType } };
  }
  // The message is committed; the workers start its delivery.
  if (result.pending.length > 0) context.starts.announce();
  return { ok: true, message: { id: result.message.id, deliveries: result.pending.length, sent: result.pending.length > 0 } };
}
