import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData } from '@remix-run/react';
import { attemptLogPage } from '../../../db/attempts.ts';
import { listEndpoints } from '../../../db/endpoints.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { listSubscribers } from '../../../db/subscribers.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';
import { Field, SelectField } from '../components/field';
import { nextPageSearch, parseLogQuery } from '../log-query';

/** Attempts per page. */
const PAGE = 50;
/** The filter lists show this many subscribers and endpoints at most; beyond, the search field finds a message. */
const CHOICES = 500;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Logs · ${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const query = parseLogQuery(new URL(request.url).searchParams);
  const [page, subscribers, endpoints, eventTypes] = await Promise.all([
    attemptLogPage(context.db, app.id, query.filter, { limit: PAGE, ...(query.cursor ? { cursor: query.cursor } : {}) }),
    listSubscribers(context.db, app.id, { limit: CHOICES, offset: 0 }),
    listEndpoints(context.db, { appId: app.id }, { limit: CHOICES, offset: 0 }),
    eventTypesOf(context.db, app.id),
  ]);
  const subscriberNames = new Map(subscribers.rows.map((s) => [s.id, s.name]));
  return {
    app: { id: app.id, name: app.name },
    values: query.values,
    errors: query.errors,
    paged: query.cursor !== undefined,
    next: page.next ? nextPageSearch(query.values, page.next) : undefined,
    attempts: page.rows.map((a) => ({
      id: a.id,
      at: a.created_at.toISOString(),
      succeeded: a.succeeded,
      statusCode: a.status_code,
      error: a.error,
      eventType: a.event_type,
      messageId: a.message_id,
      subscriber: subscriberNames.get(a.subscriber_id) ?? a.subscriber_id,
      url: a.url,
      number: a.number,
      trigger: a.trigger,
      durationMs: a.duration_ms,
    })),
    subscribers: subscribers.rows.map((s) => ({ id: s.id, name: s.name })),
    endpoints: endpoints.rows.map((e) => ({ id: e.id, url: e.url })),
    eventTypes: eventTypes.map((t) => t.name),
  };
}

export default function Logs() {
  const { app, values, errors, paged, next, attempts, subscribers, endpoints, eventTypes } = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to={`/apps/${app.id}`}>{app.name}</Link>
      </p>
      <h1>Logs</h1>
      <p>Every delivery attempt of this app, newest first. The filters live in the address, so you can share the link.</p>
      <Form method="get" className="filters" aria-label="Filter attempts">
        <SelectField label="Status" name="status" defaultValue={values.status} error={errors.status} includeAny options={[['success', 'Succeeded'], ['failed', 'Failed']]} />
        <SelectField label="Subscriber" name="subscriber" defaultValue={values.subscriber} includeAny options={subscribers.map((s) => [s.id, s.name])} />
        <SelectField label="Endpoint" name="endpoint" defaultValue={values.endpoint} includeAny options={endpoints.map((e) => [e.id, e.url])} />
        <SelectField label="Event type" name="event_type" defaultValue={values.event_type} includeAny options={eventTypes.map((t) => [t, t])} />
        <Field label="From (UTC)" name="since" type="date" defaultValue={values.since} error={errors.since} />
        <Field label="To (UTC, inclusive)" name="until" type="date" defaultValue={values.until} error={errors.until} />
        <div className="field">
          <label htmlFor="log-q">Message or event id</label>
          <input id="log-q" name="q" type="search" defaultValue={values.q} placeholder="msg_… or your event id" />
        </div>
        <div className="actions">
          <button type="submit">Filter</button> <Link to=".">Clear</Link>
        </div>
      </Form>
      {errors.after ? <p role="alert">{errors.after}</p> : null}
      {attempts.length === 0 ? (
        <p>{paged ? 'No older attempts match.' : 'No attempts match. Send a message to one of this app’s endpoints, or loosen the filters.'}</p>
      ) : (
        <div className="table-scroll">
          <table>
            <caption>{paged ? 'Older attempts' : 'Newest attempts'}</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Result</th>
                <th scope="col">Event type</th>
                <th scope="col">Message</th>
                <th scope="col">Subscriber and URL</th>
                <th scope="col">Attempt</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={a.id}>
                  <td className="nowrap">
                    <time dateTime={a.at}>
                      {a.at.slice(0, 10)}
                      <br />
                      {a.at.slice(11, 19)}
                    </time>
                  </td>
                  <td>
                    {/* Words as well as colour: the result must read without it. */}
                    <span className={a.succeeded ? 'result-ok' : 'result-failed'}>{a.succeeded ? 'Succeeded' : 'Failed'}</span> {a.statusCode ?? ''}
                    {!a.succeeded && a.error ? <div className="muted">{a.error}</div> : null}
                  </td>
                  <td>{a.eventType}</td>
                  <td>
                    <Link to={`/apps/${app.id}/messages/${a.messageId}`} className="id">
                      {a.messageId}
                    </Link>
                  </td>
                  <td className="url">
                    {a.subscriber}
                    <div className="muted">{a.url}</div>
                  </td>
                  <td>
                    #{a.number} {a.trigger === 'automatic' ? '' : `(${a.trigger === 'manual' ? 'resend' : a.trigger})`}
                  </td>
                  <td className="nowrap">{a.durationMs} ms</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav aria-label="Pages" className="pager">
        {paged ? <Link to={`?${new URLSearchParams(Object.entries(values).filter(([, v]) => v !== '')).toString()}`}>Newest attempts</Link> : null}{' '}
        {next ? <Link to={next}>Older attempts</Link> : null}
      </nav>
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="logs" />;
}
