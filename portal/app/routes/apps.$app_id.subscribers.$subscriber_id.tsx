import { useEffect, useId, useState } from 'react';
import { data, type ActionFunctionArgs, type AppLoadContext, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { SubscriptionPatch } from '../../../api/subscribers.ts';
import { findEndpoint, listEndpoints } from '../../../db/endpoints.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { findSubscriber, revokePortalLinks, updateSubscriber } from '../../../db/subscribers.ts';
import { issuePortalLink, PORTAL_LINK_DEFAULT_TTL_MS, PORTAL_LINK_KEY_PURPOSE } from '../../../lib/portal-links.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors, requireAccountApp } from '../apps.server';
import { requireRole, requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { EndpointFacts, EndpointFields, receivedEventTypes, SigningSecretShown, TestEventTypeField } from '../components/endpoint-fields';
import { Field } from '../components/field';
import { FormError } from '../components/form-error';
import { ConfirmAction, IntentForm } from '../components/intent-form';
import { isReplayControlIntent, REPLAY_CONTROLS, REPLAY_INTENT, ReplayPanel, type ReplayControlIntent } from '../components/replay-panel';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { changeEndpoint, createEndpointFromForm, endpointForm, endpointRulesOf, endpointViews, sendTestMessage, type EndpointView } from '../endpoints.server';
import { formText } from '../forms.server';
import { controlEndpointReplay, endpointReplayState, requestEndpointReplay } from '../replays.server';
import { utcMinute } from '../utc-minute';

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

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const { user, app, subscriber } = await requireAppSubscriber(request, context, params);
  const { token, headers } = await csrfToken(request, context);
  const { db, config } = context;
  // MAX_ENDPOINTS_PER_SUBSCRIBER bounds the list: one page holds them all.
  const [endpoints, eventTypes] = await Promise.all([listEndpoints(db, { subscriberId: subscriber.id }, { limit: config.maxEndpointsPerSubscriber, offset: 0 }), eventTypesOf(db, app.id)]);
  const now = new Date();
  const replays = await Promise.all(endpoints.rows.map((e) => endpointReplayState(db, e, 'provider', now)));
  return data(
    {
      csrf: token,
      // ?endpoint=<id> opens that endpoint's replay panel (link to it with #replay-<id>).
      openReplay: new URL(request.url).searchParams.get('endpoint'),
      app: { id: app.id, name: app.name },
      subscriber: { id: subscriber.id, name: subscriber.name, email: subscriber.email },
      eventTypes: eventTypes.map((et) => et.name),
      endpoints: await endpointViews(context, endpoints.rows),
      replays: Object.fromEntries(endpoints.rows.map((e, i) => [e.id, replays[i]!])),
      // Owners and admins rotate secrets, replay (and pause, resume or cancel replays), and create or revoke portal links.
      canManage: user.role !== 'member',
    },
    { headers },
  );
}

type Intent = 'subscriber' | 'create-endpoint' | 'edit-endpoint' | 'status' | 'reveal' | 'rotate' | 'test' | typeof REPLAY_INTENT | ReplayControlIntent | 'portal-link' | 'revoke-portal-links';

/** What only owners and admins may do here; members read, reveal, edit and test. */
const MANAGER_INTENTS: readonly Intent[] = ['rotate', REPLAY_INTENT, ...REPLAY_CONTROLS, 'portal-link', 'revoke-portal-links'];

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
  /** A portal link just created, shown this once. */
  portalLink?: { url: string; expiresAt: string };
}

const answer = (result: ActionResult, status = 200) => data<ActionResult>(result, { status });

export async function action({ request, context, params }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const { user, app, subscriber } = await requireAppSubscriber(request, context, params);
  const { db } = context;
  const intent = formText(form, 'intent') as Intent;
  const rules = endpointRulesOf(context);
  if (MANAGER_INTENTS.includes(intent)) requireRole(user, ['owner', 'admin']);

  if (intent === 'portal-link') {
    const link = issuePortalLink(context.secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE), context.config.publicUrl, subscriber.id, PORTAL_LINK_DEFAULT_TTL_MS, Date.now());
    return answer({ intent, errors: {}, values: {}, portalLink: { url: link.url, expiresAt: link.expiresAt.toISOString() } });
  }

  if (intent === 'revoke-portal-links') {
    await revokePortalLinks(db, subscriber.id, new Date());
    return answer({ intent, errors: {}, values: {}, done: 'Every portal link of this subscriber is revoked, and the portal sessions they opened are signed out. Create a new link to give access again.' });
  }

  if (isReplayControlIntent(intent)) {
    const { status, result } = await controlEndpointReplay(context, { subscriberId: subscriber.id }, intent, form);
    return answer(result, status);
  }

  if (intent === 'subscriber') {
    const values = { name: formText(form, 'name'), email: formText(form, 'email') };
    const parsed = SubscriptionPatch.safeParse({ name: values.name, email: values.email || null });
    if (!parsed.success) return answer({ intent, errors: fieldErrors(parsed.error), values }, 400);
    await updateSubscriber(db, subscriber.id, parsed.data);
    return answer({ intent, errors: {}, values: {}, done: 'Subscriber saved.' });
  }

  if (intent === 'create-endpoint') {
    const created = await createEndpointFromForm(context, app, subscriber, form);
    if (!created.ok) return answer({ intent, errors: created.errors, values: created.values }, created.status);
    return answer({ intent, endpointId: created.endpoint.id, errors: {}, values: {}, done: `Endpoint ${created.endpoint.url} added. Reveal its signing secret below to set up the receiver.` });
  }

  const endpoint = await findEndpoint(db, { subscriberId: subscriber.id }, formText(form, 'endpoint_id'));
   
  if (!endpoint) throw notFound();
  const endpointId = endpoint.id;

  if (intent === 'edit-endpoint' || intent === 'status') {
    const edited = intent === 'edit-endpoint' ? endpointForm(form) : { values: {}, body: { status: formText(form, 'status') } };
    const changed = await changeEndpoint(context, app.id, endpoint, edited, `disabled in the portal by ${user.email}`);
    if (!changed.ok) return answer({ intent, endpointId, errors: changed.errors, values: changed.values }, changed.status);
    return answer({ intent, endpointId, errors: {}, values: {}, done: intent === 'status' ? `Endpoint ${changed.endpoint.status === 'active' ? 'enabled' : 'disabled'}.` : 'Endpoint saved.' });
  }

  if (intent === REPLAY_INTENT) {
    const { status, result } = await requestEndpointReplay(context, endpoint, form, { kind: 'user', id: user.id });
    return answer(result, status);
  }

  if (intent === 'reveal' || intent === 'rotate') {
    const shown = intent === 'rotate' ? await rules.rotate(db, app.id, endpoint.id) : endpoint;
     
    if (!shown) throw notFound();
    const secret = rules.secretOut(shown);
    return answer({ intent, endpointId, errors: {}, values: {}, secret: { key: secret.key, previousKeyExpiresAt: secret.previous_key_expires_at }, done: intent === 'rotate' ? 'Signing secret rotated.' : undefined });
  }

  if (intent === 'test') {
    const sent = await sendTestMessage(context, app, endpoint, formText(form, 'event_type'));
    if (!sent.ok) return answer({ intent, endpointId, errors: sent.errors, values: sent.values }, sent.status);
    return answer({ intent, endpointId, errors: {}, values: {}, message: sent.message });
  }

   
  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

/** An answer of the replay panel's forms, which the panel shows itself. */
const isReplayResult = (result: ActionResult | undefined): result is ActionResult & { intent: typeof REPLAY_INTENT | ReplayControlIntent; endpointId: string } =>
  result?.endpointId !== undefined && (result.intent === REPLAY_INTENT || isReplayControlIntent(result.intent));

type PageData = ReturnType<typeof useLoaderData<typeof loader>>;

function EndpointCard({ endpoint, replay, replayOpen, result, csrf, eventTypes, canManage, appId }: { endpoint: EndpointView; replay: PageData['replays'][string] | undefined; replayOpen: boolean; result?: ActionResult; csrf: string; eventTypes: string[]; canManage: boolean; appId: string }) {
  const received = receivedEventTypes(endpoint.enabledEvents, eventTypes);
  const replayResult = isReplayResult(result) ? { ...result, values: result.values as Record<string, string> } : undefined;
  const missed = replay?.missed.count ?? 0;
  // Opened by a link (?endpoint=), an answer of its forms, or a replay under way; then it stays open
  // (the replay ending must not fold it away) until the person closes it.
  const shouldOpen = replayOpen || replayResult !== undefined || (replay?.latest != null && !replay.latest.finished);
  const [open, setOpen] = useState(shouldOpen);
  useEffect(() => {
    if (shouldOpen) setOpen(true);
  }, [shouldOpen]);
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
      {result?.done && !replayResult ? <p role="status">{result.done}</p> : null}
      <EndpointFacts endpoint={endpoint} />

      <Form method="post">
        {hidden('status')}
        <input type="hidden" name="status" value={endpoint.status === 'active' ? 'inactive' : 'active'} />
        <button type="submit">{endpoint.status === 'active' ? 'Disable endpoint' : 'Enable endpoint'}</button>
      </Form>

      {replay ? (
        <details className="replay-details" id={`replay-${endpoint.id}`} open={open} onToggle={(event) => setOpen(event.currentTarget.open)}>
          <summary>
            Replay
            {missed > 0 ? ` — ${missed} missed` : ''}
          </summary>
          <ReplayPanel
            csrf={csrf}
            endpointId={endpoint.id}
            endpointActive={endpoint.status === 'active'}
            state={replay}
            pollUrl={(replayId) => `/apps/${appId}/replays/${replayId}`}
            canRequest={canManage}
            notAllowed="Only owners and admins can start, pause or cancel a replay; its progress shows here."
            result={replayResult}
          />
        </details>
      ) : null}

      <h4>Signing secret</h4>
      {result?.secret ? <SigningSecretShown secret={result.secret} /> : null}
      <Form method="post">
        {hidden('reveal')}
        <button type="submit">Reveal signing secret</button>
      </Form>
      {canManage ? (
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
        <TestEventTypeField received={received} chosen={result?.intent === 'test' ? String(result.values.event_type ?? '') : ''} error={result?.errors.event_type} />
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
  const { csrf, app, subscriber, eventTypes, endpoints, replays, openReplay, canManage } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const edited = result?.intent === 'subscriber' ? result : undefined;
  const linked = result?.intent === 'portal-link' || result?.intent === 'revoke-portal-links' ? result : undefined;
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

      <h2>Subscriber portal</h2>
      <p>
        A portal link opens this subscriber’s own portal, without an account here: there it manages its endpoints, reads its logs and replays what it missed. A link works for 24 hours, for
        anyone who has it.
      </p>
      {linked?.done ? <p role="status">{linked.done}</p> : null}
      {linked?.portalLink ? <PortalLinkShown link={linked.portalLink} /> : null}
      {canManage ? (
        <>
          <IntentForm csrf={csrf} intent="portal-link">
            <button type="submit">Create a portal link</button>
          </IntentForm>
          <ConfirmAction
            csrf={csrf}
            intent="revoke-portal-links"
            id={subscriber.id}
            verb="Revoke"
            what="all portal links"
            explanation="Every link given to this subscriber so far stops working, and whoever is signed in through one is signed out. Links created afterwards work."
          />
        </>
      ) : (
        <p>Only owners and admins can create or revoke portal links.</p>
      )}

      <h2>Endpoints</h2>
      {endpoints.length === 0 ? <p>This subscriber has no endpoints yet. Add one below.</p> : null}
      <ul style={{ listStyle: 'none', padding: 0 }}>
        {endpoints.map((endpoint) => (
          <EndpointCard
            key={endpoint.id}
            endpoint={endpoint}
            replay={replays[endpoint.id]}
            replayOpen={openReplay === endpoint.id}
            result={result?.endpointId === endpoint.id && result.intent !== 'create-endpoint' ? result : undefined}
            csrf={csrf}
            eventTypes={eventTypes}
            canManage={canManage}
            appId={app.id}
          />
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

/** A portal link just created: selectable text, and a Copy button once scripts run (it needs them). */
function PortalLinkShown({ link }: { link: { url: string; expiresAt: string } }) {
  const id = useId();
  const [scripted, setScripted] = useState(false);
  const [copied, setCopied] = useState('');
  useEffect(() => setScripted(true), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link.url);
      setCopied('Copied.');
    } catch {
      // No clipboard (plain http, or permission refused): the text stays there to select.
      setCopied('Could not copy: select the link and copy it.');
    }
  };
  return (
    <div className="portal-link">
      <label htmlFor={id}>Portal link, valid until {utcMinute(new Date(link.expiresAt))}</label>
      <div className="portal-link-row">
        <input id={id} readOnly value={link.url} onFocus={(event) => event.currentTarget.select()} />
        {scripted ? (
          <button type="button" onClick={() => void copy()}>
            Copy link
          </button>
        ) : null}
      </div>
      <p role="status">{copied}</p>
      <p className="field-hint">Shown only now: send it to the subscriber’s contact over a channel you trust.</p>
    </div>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="subscriber page" />;
}
