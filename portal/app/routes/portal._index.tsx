import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useActionData, useLoaderData, useSearchParams } from '@remix-run/react';
import { missedDeliveries } from '../../../db/replays.ts';
import { EndpointFacts } from '../components/endpoint-fields';
import { IntentForm } from '../components/intent-form';
import { endpointViews } from '../endpoints.server';
import { formText } from '../forms.server';
import { reenableEndpoint, requireOwnEndpoint, subscriberEndpoints } from '../subscriber-portal.server';
import { requireSubscriber, requireSubscriberForm, subscriberCsrfToken } from '../subscriber-session.server';
import { utcMinute } from '../utc-minute';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Your endpoints · ${data?.app.name ?? 'Webhook'} portal` }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const signedIn = await requireSubscriber(request, context);
  const endpoints = await subscriberEndpoints(context, signedIn);
  const now = new Date();
  // What "Re-enable and replay" would send, counted before the click: only disabled endpoints offer it.
  const missed = new Map(
    await Promise.all(endpoints.filter((e) => e.status === 'inactive').map(async (e) => [e.id, await missedDeliveries(context.db, e, now)] as const)),
  );
  return {
    csrf: await subscriberCsrfToken(request, context),
    app: { name: signedIn.app.name },
    subscriber: { name: signedIn.subscriber.name },
    endpoints: (await endpointViews(context, endpoints)).map((view) => {
      const miss = missed.get(view.id);
      return { ...view, missed: miss ? { count: miss.count, since: miss.since.toISOString() } : null };
    }),
  };
}

/** Re-enable a disabled endpoint, and with `enable-replay` replay what it missed, then follow that on its page. */
export async function action({ request, context }: ActionFunctionArgs) {
  const { form, ...signedIn } = await requireSubscriberForm(request, context);
  const intent = formText(form, 'intent');
  const endpoint = await requireOwnEndpoint(context, signedIn, formText(form, 'id'));
  if (intent !== 'enable' && intent !== 'enable-replay') throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
  const { replay } = await reenableEndpoint(context, signedIn, endpoint, { replay: intent === 'enable-replay' });
  if (replay) return redirect(`/portal/endpoints/${endpoint.id}?replayed=1`);
  return data({ endpointId: endpoint.id, done: intent === 'enable' ? 'Endpoint re-enabled: new messages are sent to it again.' : 'Endpoint re-enabled; it had nothing to replay.' });
}

const messages = (n: number) => `${n} missed ${n === 1 ? 'message' : 'messages'}`;

// Remix requires the route component to be the module's default export.
export default function SubscriberEndpoints() {
  const { csrf, app, subscriber, endpoints } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const [search] = useSearchParams();
  return (
    <>
      <h1>Your endpoints</h1>
      <p>
        Where {app.name} sends webhooks for {subscriber.name}: each endpoint’s address, whether it is enabled, and how many of the last 24 hours’ attempts failed.
      </p>
      {search.get('deleted') ? <p role="status">Endpoint deleted.</p> : null}
      <p>
        <Link to="/portal/endpoints/new">Add an endpoint</Link>
      </p>
      {endpoints.length === 0 ? <p>You have no endpoints yet. Add one to start receiving webhooks.</p> : null}
      <ul className="endpoint-list">
        {endpoints.map((endpoint) => (
          <li key={endpoint.id} className="endpoint-card">
            <h2 className="endpoint-url">
              <Link to={`/portal/endpoints/${endpoint.id}`}>{endpoint.url}</Link>
            </h2>
            {result?.endpointId === endpoint.id ? <p role="status">{result.done}</p> : null}
            <EndpointFacts endpoint={endpoint} />
            {endpoint.status === 'inactive' && endpoint.missed ? (
              <div className="endpoint-actions">
                <p>
                  {endpoint.missed.count === 0
                    ? 'It missed no messages that a replay could send.'
                    : `Since ${utcMinute(new Date(endpoint.missed.since))} it missed ${endpoint.missed.count === 1 ? '1 message' : `${endpoint.missed.count} messages`}. Fix your receiver first, then:`}
                </p>
                <IntentForm csrf={csrf} intent="enable" id={endpoint.id}>
                  <button type="submit">Re-enable</button>
                </IntentForm>
                {endpoint.missed.count > 0 ? (
                  <IntentForm csrf={csrf} intent="enable-replay" id={endpoint.id}>
                    <button type="submit">Re-enable and replay {messages(endpoint.missed.count)}</button>
                  </IntentForm>
                ) : null}
              </div>
            ) : null}
          </li>
        ))}
      </ul>
    </>
  );
}
