import { createHash } from 'node:crypto';
import { useId } from 'react';
import { data, type ActionFunctionArgs, type AppLoadContext, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import type { z } from 'zod';
import { EndpointIn, EndpointPatch, endpointRules } from '../../../api/endpoints.ts';
import { ApiError } from '../../../api/errors.ts';
import { SubscriptionPatch } from '../../../api/subscribers.ts';
import { endpointErrorRates } from '../../../db/attempts.ts';
import type { Endpoint } from '../../../db/database.ts';
import { findEndpoint, listEndpoints, updateEndpoint } from '../../../db/endpoints.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { acceptMessage } from '../../../db/messages.ts';
import { findSubscriber, updateSubscriber } from '../../../db/subscribers.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors, requireAccountApp } from '../apps.server';
import { requireRole, requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { Field } from '../components/field';
import { FormError } from '../components/form-error';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { formText } from '../forms.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.subscriber.name ?? 'Subscriber'} · ${data?.app.name ?? 'App'} · openhooks portal` }];

const notFound = () => new Response('Not found', { status: 404, statusText: 'Not Found' });

/** The app and its subscriber from the URL, both in the user's account; a subscriber of another app is a 404 too. */
async function requireAppSubscriber(request: Request, context: AppLoadContext, params: LoaderFunctionArgs['params']) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const found = params.subscriber_id ? await findSubscriber(context.db, user.accountId, params.subscriber_id) : undefined;
   
  if (!found || found.subscriber.app_id !== app.id) throw notFound();
  return { user, app, subscriber: found.subscriber };
}

/** The API's endpoint rules, with this server's settings, as api/index.ts builds them. */
function rulesOf(context: AppLoadContext) {
  const { config } = context;
  return endpointRules({ secrets: context.secrets, rotationOverlapMs: config.secretRotationOverlapMs, network: config, maxEndpointsPerSubscriber: config.maxEndpointsPerSubscriber });
}

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const { user, app, subscriber } = await requireAppSubscriber(request, context, params);
  const { token, headers } = await csrfToken(request, context);
  const { db, config } = context;
  // MAX_ENDPOINTS_PER_SUBSCRIBER bounds the list: one page holds them all.
  const [endpoints, eventTypes] = await Promise.all([listEndpoints(db, { subscriberId: subscriber.id }, { limit: config.maxEndpointsPerSubscriber, offset: 0 }), eventTypesOf(db, app.id)]);
  const rates = await endpointErrorRates(db, endpoints.rows.map((e) => e.id));
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name },
      subscriber: { id: subscriber.id, name: subscriber.name, email: subscriber.email },
      eventTypes: eventTypes.map((et) => et.name),
      endpoints: endpoints.rows.map((e) => ({
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
      })),
      canRotate: user.role !== 'member',
    },
    { headers },
  );
}

type Intent = 'subscriber' | 'create-endpoint' | 'edit-endpoint' | 'status' | 'reveal' | 'rotate' | 'test';

/** What the page shows after an action, beside the form that was sent. */
interface ActionResult {
  intent: Intent;
  /** The endpoint an endpoint form was for. */
  endpointId?: string;
  errors: Record<string, string>;
  values: Record<string, string | string[]>;
  done?: string;
  secret?: { key: string; previousKeyExpiresAt: string | null };
  message?: { id: string; deliveries: number; sent: boolean };
}

const answer = (result: ActionResult, status = 200) => data<ActionResult>(result, { status });

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

/** The endpoint form's fields as typed, and as the API's body. */
function endpointForm(form: FormData) {
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

export async function action({ request, context, params }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const { user, app, subscriber } = await requireAppSubscriber(request, context, params);
  const { db } = context;
  const intent = formText(form, 'intent') as Intent;
  const rules = rulesOf(context);

  if (intent === 'subscriber') {
    const values = { name: formText(form, 'name'), email: formText(form, 'email') };
    const parsed = SubscriptionPatch.safeParse({ name: values.name, email: values.email || null });
    if (!parsed.success) return answer({ intent, errors: fieldErrors(parsed.error), values }, 400);
    await updateSubscriber(db, subscriber.id, parsed.data);
    return answer({ intent, errors: {}, values: {}, done: 'Subscriber saved.' });
  }

  if (intent === 'create-endpoint') {
    const { values, body } = endpointForm(form);
    const parsed = EndpointIn.safeParse(body);
    if (!parsed.success) return answer({ intent, errors: endpointFieldErrors(parsed.error), values }, 400);
    try {
      const { endpoint } = await db.transaction().execute((trx) => rules.create(trx, app, subscriber, parsed.data));
      return answer({ intent, endpointId: endpoint.id, errors: {}, values: {}, done: `Endpoint ${endpoint.url} added. Reveal its signing secret below to set up the receiver.` });
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) return answer({ intent, errors: apiErrors(error), values }, 422);
      throw error;
    }
  }

  const endpoint = await findEndpoint(db, { subscriberId: subscriber.id }, formText(form, 'endpoint_id'));
   
  if (!endpoint) throw notFound();
  const endpointId = endpoint.id;

  if (intent === 'edit-endpoint' || intent === 'status') {
    const edited = intent === 'edit-endpoint' ? endpointForm(form) : { values: {}, body: { status: formText(form, 'status') } };
    const parsed = EndpointPatch.safeParse(edited.body);
    if (!parsed.success) return answer({ intent, endpointId, errors: endpointFieldErrors(parsed.error), values: edited.values }, 400);
    try {
      const updated = await updateEndpoint(db, endpoint.id, await rules.changes(db, app.id, endpoint, parsed.data, `disabled in the portal by ${user.email}`));
      return answer({ intent, endpointId, errors: {}, values: {}, done: intent === 'status' ? `Endpoint ${updated.status === 'active' ? 'enabled' : 'disabled'}.` : 'Endpoint saved.' });
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) return answer({ intent, endpointId, errors: apiErrors(error), values: edited.values }, 422);
      throw error;
    }
  }

  if (intent === 'reveal' || intent === 'rotate') {
    if (intent === 'rotate') requireRole(user, ['owner', 'admin']);
    const shown = intent === 'rotate' ? await rules.rotate(db, app.id, endpoint.id) : endpoint;
     
    if (!shown) throw notFound();
    const secret = rules.secretOut(shown);
    return answer({ intent, endpointId, errors: {}, values: {}, secret: { key: secret.key, previousKeyExpiresAt: secret.previous_key_expires_at }, done: intent === 'rotate' ? 'Signing secret rotated.' : undefined });
  }

  if (intent === 'test') return sendTestMessage(context, user.accountId, app.id, endpoint, formText(form, 'event_type'));

   
  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

/** The event types an endpoint receives, of those the app has. */
function receivedEventTypes(enabled: Endpoint['enabled_events'], appEventTypes: string[]): string[] {
  return enabled === '*' ? appEventTypes : appEventTypes.filter((name) => enabled.includes(name));
}

/** Accepts a test message for this one endpoint as the API's send does, then starts its delivery as the API does after its 202. */
async function sendTestMessage(context: AppLoadContext, accountId: string, appId: string, endpoint: Endpoint, chosen: string) {
  const intent = 'test';
  const endpointId = endpoint.id;
  const received = receivedEventTypes(endpoint.enabled_events, (await eventTypesOf(context.db, appId)).map((et) => et.name));
  const eventType = chosen || received[0];
  if (!eventType || !received.includes(eventType)) {
    const error = received.length === 0 ? 'This endpoint receives none of the app’s event types. Add an event type, or enable one for this endpoint, first.' : `This endpoint does not receive ${eventType}.`;
    return answer({ intent, endpointId, errors: { event_type: error }, values: { event_type: chosen } }, 400);
  }
  const body = { event_type: eventType, version: endpoint.version, data: { test: true, sent_from: 'portal' } };
  const result = await acceptMessage(context.db, {
    accountId,
    appId,
    subscriberId: endpoint.subscriber_id,
    endpointId,
    eventType,
    version: endpoint.version,
    data: body.data,
    eventId: null,
    overridePayload: false,
    idempotencyKey: null,
    // What the API would hash for this send; it matters only with an Idempotency-Key, which a test message has none of.
    requestHash: createHash('sha256').update(JSON.stringify(['POST', `/subscriptions/${endpoint.subscriber_id}/endpoints/${endpointId}/messages`, body])).digest('hex'),
  });
  if (result.kind !== 'created') {
    return answer({ intent, endpointId, errors: { event_type: result.kind === 'unknown_event_type' ? `${eventType} no longer exists in this app.` : 'The message was not accepted; reload and try again.' }, values: { event_type: eventType } }, 409);
  }
  // The message is committed; the reconciler covers a failure to start here.
  context.starts.enqueue(result.pending);
  return answer({ intent, endpointId, errors: {}, values: {}, message: { id: result.message.id, deliveries: result.pending.length, sent: result.pending.length > 0 } });
}

type EndpointView = ReturnType<typeof useLoaderData<typeof loader>>['endpoints'][number];

function when(iso: string): string {
  return `${iso.replace('T', ' ').slice(0, 19)} UTC`;
}

/** URL, description, version and enabled events, for a new endpoint or to edit one. */
function EndpointFields({ endpoint, result, eventTypes }: { endpoint?: EndpointView; result?: ActionResult; eventTypes: string[] }) {
  const id = useId();
  const typed = result && !result.done ? result.values : undefined;
  const text = (name: string, saved: string | null | undefined) => (typed ? String(typed[name] ?? '') : (saved ?? ''));
  const errors = result?.errors ?? {};
  const savedEvents = endpoint?.enabledEvents ?? '*';
  const mode = typed ? typed.events_mode : savedEvents === '*' ? 'all' : 'some';
  const checked = typed ? (Array.isArray(typed.events) ? typed.events : []) : savedEvents === '*' ? [] : savedEvents;
  return (
    <>
      <Field label="URL" name="url" type="url" defaultValue={text('url', endpoint?.url)} error={errors.url} required hint="Where messages are POSTed, such as https://example.com/webhooks." />
      <Field label="Description" name="description" defaultValue={text('description', endpoint?.description)} error={errors.description} hint="Optional." />
      <Field label="Version" name="version" defaultValue={text('version', endpoint?.version ?? '1.0')} error={errors.version} required hint="Only messages of this version are delivered here." />
      <fieldset aria-describedby={errors.enabled_events ? `${id}-events-error` : undefined}>
        <legend>Enabled events</legend>
        <label>
          <input type="radio" name="events_mode" value="all" defaultChecked={mode === 'all'} /> All event types (“*”), including ones added later
        </label>
        <br />
        <label>
          <input type="radio" name="events_mode" value="some" defaultChecked={mode === 'some'} /> Only these:
        </label>
        {eventTypes.length === 0 ? <p className="field-hint">This app has no event types yet.</p> : null}
        <ul style={{ listStyle: 'none' }}>
          {eventTypes.map((name) => (
            <li key={name}>
              <label style={{ overflowWrap: 'anywhere' }}>
                <input type="checkbox" name="events" value={name} defaultChecked={checked.includes(name)} /> {name}
              </label>
            </li>
          ))}
        </ul>
        {errors.enabled_events ? (
          <p id={`${id}-events-error`} className="field-error">
            {errors.enabled_events}
          </p>
        ) : null}
      </fieldset>
    </>
  );
}

function EndpointCard({ endpoint, result, csrf, eventTypes, canRotate, appId }: { endpoint: EndpointView; result?: ActionResult; csrf: string; eventTypes: string[]; canRotate: boolean; appId: string }) {
  const id = useId();
  const received = endpoint.enabledEvents === '*' ? eventTypes : eventTypes.filter((name) => endpoint.enabledEvents.includes(name));
  const hidden = (intent: Intent) => (
    <>
      <CsrfField token={csrf} />
      <input type="hidden" name="intent" value={intent} />
      <input type="hidden" name="endpoint_id" value={endpoint.id} />
    </>
  );
  return (
    <li style={{ borderTop: '1px solid var(--line)', padding: '0.5rem 0' }}>
      <h3 style={{ overflowWrap: 'anywhere' }}>{endpoint.url}</h3>
      {result?.done ? <p role="status">{result.done}</p> : null}
      <dl>
        <dt>Status</dt>
        <dd>
          <strong>{endpoint.status === 'active' ? 'Enabled' : 'Disabled'}</strong>
          {endpoint.status === 'inactive' ? ` — ${endpoint.disabledReason ?? 'no reason recorded'}${endpoint.disabledAt ? `, since ${when(endpoint.disabledAt)}` : ''}` : null}
        </dd>
        <dt>Description</dt>
        <dd>{endpoint.description ?? 'none'}</dd>
        <dt>Version</dt>
        <dd>{endpoint.version}</dd>
        <dt>Enabled events</dt>
        <dd style={{ overflowWrap: 'anywhere' }}>{endpoint.enabledEvents === '*' ? 'All event types (*)' : endpoint.enabledEvents.join(', ') || 'none'}</dd>
        <dt>Errors in the last 24 hours</dt>
        <dd>{endpoint.errorRate === null ? 'No attempts in the last 24 hours' : `${endpoint.errorRate}% of attempts failed`}</dd>
      </dl>

      <Form method="post">
        {hidden('status')}
        <input type="hidden" name="status" value={endpoint.status === 'active' ? 'inactive' : 'active'} />
        <button type="submit">{endpoint.status === 'active' ? 'Disable endpoint' : 'Enable endpoint'}</button>
      </Form>

      <h4>Signing secret</h4>
      {result?.secret ? (
        <p>
          <label htmlFor={`${id}-secret`}>Signing secret</label>{' '}
          <input id={`${id}-secret`} readOnly value={result.secret.key} size={50} style={{ maxWidth: '100%' }} />
          <br />
          {result.secret.previousKeyExpiresAt ? `The previous secret still signs until ${when(result.secret.previousKeyExpiresAt)}.` : 'No previous secret signs any more.'}
        </p>
      ) : null}
      <Form method="post">
        {hidden('reveal')}
        <button type="submit">Reveal signing secret</button>
      </Form>
      {canRotate ? (
        <Form method="post">
          {hidden('rotate')}
          <button type="submit">Rotate signing secret</button>
        </Form>
      ) : null}

      <h4>Send a test message</h4>
      {result?.message ? (
        <p role="status">
          {result.message.sent ? 'Test message sent. ' : 'Test message stored, but not sent: this endpoint is disabled or does not match it. '}
          <Link to={`/apps/${appId}/messages/${result.message.id}`}>See message {result.message.id}</Link>
        </p>
      ) : null}
      <Form method="post">
        {hidden('test')}
        <div className="field">
          <label htmlFor={`${id}-event-type`}>Event type</label>
          <select id={`${id}-event-type`} name="event_type" defaultValue={String(result?.intent === 'test' ? (result.values.event_type ?? '') : '')} aria-invalid={result?.errors.event_type ? true : undefined} aria-describedby={result?.errors.event_type ? `${id}-event-type-error` : undefined}>
            {received.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          {result?.errors.event_type ? (
            <p id={`${id}-event-type-error`} className="field-error">
              {result.errors.event_type}
            </p>
          ) : null}
        </div>
        <button type="submit">Send test message</button>
      </Form>

      <details open={result?.intent === 'edit-endpoint' && !result.done}>
        <summary>Edit this endpoint…</summary>
        <Form method="post">
          {hidden('edit-endpoint')}
          <FormError message={result?.intent === 'edit-endpoint' ? result.errors.form : undefined} />
          <EndpointFields endpoint={endpoint} result={result?.intent === 'edit-endpoint' ? result : undefined} eventTypes={eventTypes} />
          <p>
            <button type="submit">Save endpoint</button>
          </p>
        </Form>
      </details>
    </li>
  );
}

// Remix requires the route component to be the module's default export.
export default function SubscriberPage() {
  const { csrf, app, subscriber, eventTypes, endpoints, canRotate } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const edited = result?.intent === 'subscriber' ? result : undefined;
  const created = result?.intent === 'create-endpoint' ? result : undefined;
  const typed = edited && !edited.done ? edited.values : undefined;

  return (
    <>
      <h1>{subscriber.name}</h1>
      <p>
        <Link to={`/apps/${app.id}/subscribers`}>Back to the subscribers of {app.name}</Link>
      </p>

      <h2>Subscriber</h2>
      {edited?.done ? <p role="status">{edited.done}</p> : null}
      <Form method="post">
        <CsrfField token={csrf} />
        <input type="hidden" name="intent" value="subscriber" />
        <Field label="Name" name="name" defaultValue={typed ? String(typed.name) : subscriber.name} error={edited?.errors.name} required />
        <Field label="Contact email" name="email" type="email" defaultValue={typed ? String(typed.email) : (subscriber.email ?? '')} error={edited?.errors.email} hint="Optional: told when one of its endpoints is disabled." />
        <p>
          <button type="submit">Save subscriber</button>
        </p>
      </Form>

      <h2>Endpoints</h2>
      {endpoints.length === 0 ? <p>This subscriber has no endpoints yet. Add one below.</p> : null}
      <ul style={{ listStyle: 'none', padding: 0 }}>
        {endpoints.map((endpoint) => (
          <EndpointCard key={endpoint.id} endpoint={endpoint} result={result?.endpointId === endpoint.id && result.intent !== 'create-endpoint' ? result : undefined} csrf={csrf} eventTypes={eventTypes} canRotate={canRotate} appId={app.id} />
        ))}
      </ul>

      <h2>Add an endpoint</h2>
      {created?.done ? <p role="status">{created.done}</p> : null}
      <Form method="post">
        <CsrfField token={csrf} />
        <input type="hidden" name="intent" value="create-endpoint" />
        <FormError message={created?.errors.form} />
        <EndpointFields result={created?.done ? undefined : created} eventTypes={eventTypes} />
        <p>
          <button type="submit">Add endpoint</button>
        </p>
      </Form>
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="subscriber page" />;
}
