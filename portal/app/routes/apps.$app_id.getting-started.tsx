import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { API_KEY_ENV, codeSamples, ENDPOINT_ID_PLACEHOLDER, SAMPLE_LANGUAGES } from '../../../api/code-samples.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';

const LANGUAGE_NAMES: Record<(typeof SAMPLE_LANGUAGES)[number], string> = { curl: 'curl', node: 'Node.js', python: 'Python', ruby: 'Ruby', go: 'Go', php: 'PHP' };

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Getting started · ${data?.app.name ?? 'App'} · openhooks portal` }];

/** The same code samples the API serves (GET /apps/:app_id/code_samples), for this app and server. */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const eventTypes = await eventTypesOf(context.db, app.id);
  const chosen = new URL(request.url).searchParams.get('event_type');
  const eventType = eventTypes.find((t) => t.name === chosen)?.name ?? eventTypes[0]?.name ?? 'user.created';
  const samples = codeSamples({ baseUrl: `${context.config.publicUrl}/api/v1`, appId: app.id, eventType, version: '1.0' });
  return {
    app: { id: app.id, name: app.name },
    eventType,
    eventTypes: eventTypes.map((t) => t.name),
    languages: SAMPLE_LANGUAGES.map((language) => ({ language, name: LANGUAGE_NAMES[language], send: samples.send[language], replay: samples.replay[language], verify: samples.verify[language] })),
  };
}

export default function GettingStarted() {
  const { app, eventType, eventTypes, languages } = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to={`/apps/${app.id}`}>{app.name}</Link>
      </p>
      <h1>Getting started</h1>
      <ol>
        <li>
          {eventTypes.length === 0 ? (
            <>
              Create an event type on <Link to={`/apps/${app.id}/event-types`}>Event types</Link> (the samples below use <code>{eventType}</code>).
            </>
          ) : (
            <>
              Your app has {eventTypes.length} event type{eventTypes.length === 1 ? '' : 's'}; the samples send <code>{eventType}</code>.
            </>
          )}
        </li>
        <li>
          Add a subscriber and an endpoint on <Link to={`/apps/${app.id}/subscribers`}>Subscribers</Link>.
        </li>
        <li>
          Create an API key on <Link to="/settings/api-keys">API keys</Link> and put it in the <code>{API_KEY_ENV}</code> environment variable.
        </li>
        <li>Run one of the programs below; the message appears in <Link to={`/apps/${app.id}/logs`}>Logs</Link>.</li>
      </ol>
      {eventTypes.length > 1 ? (
        <form method="get" className="inline-form">
          <label htmlFor="sample-event-type">Event type in the samples</label>{' '}
          <select id="sample-event-type" name="event_type" defaultValue={eventType}>
            {eventTypes.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>{' '}
          <button type="submit">Show</button>
        </form>
      ) : null}
      <h2>Send a message</h2>
      {languages.map((l) => (
        <details key={l.language} open={l.language === 'curl'}>
          <summary>{l.name}</summary>
          <pre>{l.send}</pre>
        </details>
      ))}
      <h2>Replay what an endpoint missed</h2>
      <p>
        Each sends again the endpoint’s failed and skipped deliveries since it began missing messages; put its id (on <Link to={`/apps/${app.id}/subscribers`}>Subscribers</Link>) in place of <code>{ENDPOINT_ID_PLACEHOLDER}</code>.
      </p>
      {languages.map((l) => (
        <details key={l.language}>
          <summary>{l.name}</summary>
          <pre>{l.replay}</pre>
        </details>
      ))}
      <h2>Verify a delivery (your subscribers’ side)</h2>
      <p>Each checks the HostedHooks-Signature and the Standard Webhooks signature of a delivered request against the endpoint’s signing secret.</p>
      {languages.map((l) => (
        <details key={l.language}>
          <summary>{l.name}</summary>
          <pre>{l.verify}</pre>
        </details>
      ))}
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="getting started" />;
}
