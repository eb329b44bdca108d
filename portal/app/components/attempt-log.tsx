import { Form, Link } from '@remix-run/react';
import type { LogQuery } from '../log-query';
import { Field, SelectField } from './field';

// The logs pages' filters and table, for the provider's logs of an app and a subscriber's own logs.

/** One attempt row as attemptLogView gives it; `subscriber` is the name shown above its URL, when shown. */
export interface AttemptRow {
  id: string;
  at: string;
  succeeded: boolean;
  statusCode: number | null;
  error: string | null;
  eventType: string;
  messageId: string;
  url: string;
  number: number;
  trigger: string;
  durationMs: number;
  subscriber?: string;
}

type Values = LogQuery['values'];
type Errors = LogQuery['errors'];

/** The filters, kept in the query string; `subscribers` adds the subscriber filter (the provider's logs). */
export function AttemptFilters(props: {
  values: Values;
  errors: Errors;
  endpoints: { id: string; url: string }[];
  eventTypes: string[];
  subscribers?: { id: string; name: string }[];
}) {
  const { values, errors } = props;
  return (
    <Form method="get" className="filters" aria-label="Filter attempts">
      <SelectField label="Status" name="status" defaultValue={values.status} error={errors.status} includeAny options={[['success', 'Succeeded'], ['failed', 'Failed']]} />
      {props.subscribers ? <SelectField label="Subscriber" name="subscriber" defaultValue={values.subscriber} includeAny options={props.subscribers.map((s) => [s.id, s.name])} /> : null}
      <SelectField label="Endpoint" name="endpoint" defaultValue={values.endpoint} includeAny options={props.endpoints.map((e) => [e.id, e.url])} />
      <SelectField label="Event type" name="event_type" defaultValue={values.event_type} includeAny options={props.eventTypes.map((t) => [t, t])} />
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
  );
}

/** The attempts newest first, then links to the newest and the next older page. */
export function AttemptTable(props: { attempts: AttemptRow[]; values: Values; errors: Errors; paged: boolean; next?: string; messageHref: (messageId: string) => string; empty: string }) {
  const { attempts, values, paged, next } = props;
  const showSubscriber = attempts.some((a) => a.subscriber !== undefined);
  return (
    <>
      {props.errors.after ? <p role="alert">{props.errors.after}</p> : null}
      {attempts.length === 0 ? (
        <p>{paged ? 'No older attempts match.' : props.empty}</p>
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
                <th scope="col">{showSubscriber ? 'Subscriber and URL' : 'URL'}</th>
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
                    <Link to={props.messageHref(a.messageId)} className="id">
                      {a.messageId}
                    </Link>
                  </td>
                  <td className="url">
                    {showSubscriber ? (
                      <>
                        {a.subscriber}
                        <div className="muted">{a.url}</div>
                      </>
                    ) : (
                      a.url
                    )}
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
