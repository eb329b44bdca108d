import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useSearchParams } from '@remix-run/react';
import { deleteEndpoint } from '../../../db/endpoints.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { ConfirmAction, IntentForm } from '../components/intent-form';
import { EndpointFacts, EndpointFields, receivedEventTypes, SigningSecretShown, TestEventTypeField } from '../components/endpoint-fields';
import { FormError } from '../components/form-error';
import { CsrfField } from '../components/csrf-field';
import { REPLAY_CONTROLS, REPLAY_INTENT, ReplayPanel, type ReplayFormResult } from '../components/replay-panel';
import { changeEndpoint, endpointForm, endpointRulesOf, endpointViews, sendTestMessage } from '../endpoints.server';
import { formText } from '../forms.server';
import { controlEndpointReplay, endpointReplayState, isReplayControlIntent, requestEndpointReplay } from '../replays.server';
import { reenableEndpoint, requireOwnEndpoint } from '../subscriber-portal.server';
import { requireSubscriber, requireSubscriberForm, subscriberCsrfToken } from '../subscriber-session.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.endpoint.url ?? 'Endpoint'} · ${data?.app.name ?? 'Webhook'} portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const signedIn = await requireSubscriber(request, context);
  const endpoint = await requireOwnEndpoint(context, signedIn, params.endpoint_id);
  const [[view], eventTypes, replays] = await Promise.all([
    endpointViews(context, [endpoint]),
    eventTypesOf(context.db, signedIn.app.id),
    endpointReplayState(context.db, endpoint, 'subscriber'),
  ]);
  return {
    csrf: await subscriberCsrfToken(request, context),
    app: { name: signedIn.app.name },
    endpoint: view!,
    eventTypes: eventTypes.map((et) => et.name),
    replays,
  };
}

type Intent = 'edit-endpoint' | 'status' | 'enable-replay' | 'reveal' | 'rotate' | 'test' | 'delete';

/** What the page shows after one of its own forms (the replay panel's answer is a ReplayFormResult). */
interface ActionResult {
  intent: Intent;
  errors: Record<string, string>;
  values: Record<string, string | string[]>;
  done?: string;
  secret?: { key: string; previousKeyExpiresAt: string | null };
  message?: { id: string; sent: boolean };
}

const answer = (result: ActionResult, status = 200) => data<ActionResult | ReplayFormResult>(result, { status });

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { form, ...signedIn } = await requireSubscriberForm(request, context);
  const endpoint = await requireOwnEndpoint(context, signedIn, params.endpoint_id);
  const { app, subscriber } = signedIn;
  const intent = formText(form, 'intent');
  const rules = endpointRulesOf(context);

  if (intent === 'replay') {
    const replayed = await requestEndpointReplay(context, endpoint, form, { kind: 'subscriber_link', id: subscriber.id });
    return data<ActionResult | ReplayFormResult>(replayed.result, { status: replayed.status });
  }
  if (isReplayControlIntent(intent)) {
    const controlled = await controlEndpointReplay(context, { subscriberId: subscriber.id }, intent, form);
    return data<ActionResult | ReplayFormResult>(controlled.result, { status: controlled.status });
  }
  if (intent === 'edit-endpoint' || intent === 'status') {
    const edited = intent === 'edit-endpoint' ? endpointForm(form) : { values: {}, body: { status: formText(form, 'status') } };
    const changed = await changeEndpoint(context, app.id, endpoint, edited, `disabled in the portal by ${subscriber.name}`);
    if (!changed.ok) return answer({ intent, errors: changed.errors, values: changed.values }, changed.status);
    return answer({ intent, errors: {}, values: {}, done: intent === 'status' ? `Endpoint ${changed.endpoint.status === 'active' ? 'enabled' : 'disabled'}.` : 'Endpoint saved.' });
  }
  if (intent === 'enable-replay') {
    const { replay } = await reenableEndpoint(context, signedIn, endpoint, { replay: true });
    return answer({ intent, errors: {}, values: {}, done: replay ? 'Endpoint re-enabled; its missed messages are being sent again.' : 'Endpoint re-enabled; it had nothing to replay.' });
  }
  if (intent === 'reveal' || intent === 'rotate') {
    const shown = intent === 'rotate' ? await rules.rotate(context.db, app.id, endpoint.id) : endpoint;
    if (!shown) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
    const secret = rules.secretOut(shown);
    return answer({ intent, errors: {}, values: {}, secret: { key: secret.key, previousKeyExpiresAt: secret.previous_key_expires_at }, done: intent === 'rotate' ? 'Signing secret rotated.' : undefined });
  }
  if (intent === 'test') {
    const sent = await sendTestMessage(context, app, endpoint, formText(form, 'event_type'));
    if (!sent.ok) return answer({ intent, errors: sent.errors, values: sent.values }, sent.status);
    return answer({ intent, errors: {}, values: {}, message: { id: sent.message.id, sent: sent.message.sent } });
  }
  if (intent === 'delete') {
    // Its deliveries and attempts stay in the logs, as the API's delete keeps them.
    await deleteEndpoint(context.db, endpoint.id);
    return redirect('/portal?deleted=1');
  }
  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

// Remix requires the route component to be the module's default export.
export default function SubscriberEndpoint() {
  const { csrf, endpoint, eventTypes, replays } = useLoaderData<typeof loader>();
  const answered = useActionData<typeof action>();
  const [search] = useSearchParams();
  const replayResult = answered && [REPLAY_INTENT, ...REPLAY_CONTROLS].includes(answered.intent) ? (answered as ReplayFormResult) : undefined;
  const result = answered && !replayResult ? (answered as ActionResult) : undefined;
  const received = receivedEventTypes(endpoint.enabledEvents, eventTypes);
  const on = (intent: Intent) => (result?.intent === intent ? result : undefined);
  const missed = replays.missed.count;
  const secret = (on('reveal') ?? on('rotate'))?.secret;
  const test = on('test');
  const statusDone = on('status')?.done ?? on('enable-replay')?.done;
  return (
    <>
      <p>
        <Link to="/portal">Your endpoints</Link>
      </p>
      <h1 className="endpoint-url">{endpoint.url}</h1>
      {search.get('created') ? <p role="status">Endpoint added. Reveal its signing secret below to set up your receiver.</p> : null}
      {search.get('replayed') ? <p role="status">Endpoint re-enabled; its missed messages are being sent again. Follow the replay below.</p> : null}
      {statusDone ? <p role="status">{statusDone}</p> : null}
      <EndpointFacts endpoint={endpoint} />
      <div className="endpoint-actions">
        {endpoint.status === 'inactive' && missed > 0 ? (
          <IntentForm csrf={csrf} intent="enable-replay">
            <button type="submit">Re-enable and replay {missed === 1 ? '1 missed message' : `${missed} missed messages`}</button>
          </IntentForm>
        ) : null}
        <IntentForm csrf={csrf} intent="status">
          <input type="hidden" name="status" value={endpoint.status === 'active' ? 'inactive' : 'active'} />
          <button type="submit">{endpoint.status === 'active' ? 'Disable endpoint' : 'Re-enable'}</button>
        </IntentForm>
      </div>

      <h2>Replay</h2>
      <ReplayPanel
        csrf={csrf}
        endpointId={endpoint.id}
        endpointActive={endpoint.status === 'active'}
        state={replays}
        pollUrl={(replayId) => `/portal/replays/${replayId}`}
        canRequest
        result={replayResult}
        headingLevel="h3"
      />

      <h2>Signing secret</h2>
      <p>Check each request’s signature with this secret. After a rotation the previous secret keeps signing for a while, so you can switch without missing messages.</p>
      {secret ? <SigningSecretShown secret={secret} /> : null}
      {on('rotate')?.done ? <p role="status">{on('rotate')?.done}</p> : null}
      <div className="endpoint-actions">
        <IntentForm csrf={csrf} intent="reveal">
          <button type="submit">Reveal signing secret</button>
        </IntentForm>
        <IntentForm csrf={csrf} intent="rotate">
          <button type="submit">Rotate signing secret</button>
        </IntentForm>
      </div>

      <h2>Send a test message</h2>
      {test?.message ? (
        <p role="status">
          {test.message.sent ? 'Test message sent. ' : 'Test message stored, but not sent: this endpoint is disabled or does not match it. '}
          <Link to={`/portal/messages/${test.message.id}`}>See message {test.message.id}</Link>
        </p>
      ) : null}
      <IntentForm csrf={csrf} intent="test">
        <TestEventTypeField received={received} chosen={String(test?.values.event_type ?? '')} error={test?.errors.event_type} />
        <button type="submit">Send test message</button>
      </IntentForm>

      <h2>Edit</h2>
      {on('edit-endpoint')?.done ? <p role="status">{on('edit-endpoint')?.done}</p> : null}
      <Form method="post">
        <CsrfField token={csrf} />
        <input type="hidden" name="intent" value="edit-endpoint" />
        <FormError message={on('edit-endpoint')?.errors.form} />
        <EndpointFields endpoint={endpoint} result={on('edit-endpoint')} eventTypes={eventTypes} />
        <p>
          <button type="submit">Save endpoint</button>
        </p>
      </Form>

      <h2>Delete</h2>
      <ConfirmAction
        csrf={csrf}
        intent="delete"
        id={endpoint.id}
        verb="Delete"
        what="this endpoint"
        explanation="No more messages are sent to it. What it received stays in your logs."
      />
    </>
  );
}
