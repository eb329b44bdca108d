import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { attemptLogPage } from '../../../db/attempts.ts';
import { findMessageDeliveries } from '../../../db/deliveries.ts';
import { requestResend } from '../../../db/delivery-starts.ts';
import { findMessage } from '../../../db/messages.ts';
import { findSubscribers } from '../../../db/subscribers.ts';
import { deliveryWorkflowId } from '../../../workflows/delivery-run.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { formText } from '../forms.server';

/** A message's attempts shown at most (a delivery makes 5 per run; resends add runs). */
const MAX_ATTEMPTS = 500;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Message ${data?.message.id ?? ''} · openhooks portal` }];

async function requireMessage(args: LoaderFunctionArgs | ActionFunctionArgs) {
  const { request, context, params } = args;
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const message = params.message_id ? await findMessage(context.db, app.id, params.message_id) : undefined;
   
  if (!message) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  return { user, app, message };
}

export async function loader(args: LoaderFunctionArgs) {
  const { app, message } = await requireMessage(args);
  const { db, config } = args.context;
  const [deliveries, attempts, { token, headers }] = await Promise.all([
    findMessageDeliveries(db, message.id),
    attemptLogPage(db, app.id, { messageId: message.id }, { limit: MAX_ATTEMPTS }),
    csrfToken(args.request, args.context),
  ]);
  const subscribers = new Map((await findSubscribers(db, [...new Set(deliveries.map((d) => d.subscriber_id))])).map((s) => [s.id, s.name]));
  const workflowUrl = (deliveryId: string) =>
    `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(deliveryWorkflowId(deliveryId))}`;
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name },
      message: {
        id: message.id,
        eventType: message.event_type,
        version: message.version,
        eventId: message.event_id,
        overridePayload: message.override_payload,
        createdAt: message.created_at.toISOString(),
        payload: JSON.stringify(message.data, null, 2),
      },
      deliveries: deliveries.map((d) => ({
        id: d.id,
        endpointId: d.endpoint_id,
        subscriber: subscribers.get(d.subscriber_id) ?? d.subscriber_id,
        status: d.status,
        reason: d.reason,
        error: d.error,
        finishedAt: d.finished_at?.toISOString() ?? null,
        workflowUrl: workflowUrl(d.id),
        // Oldest first: a timeline.
        attempts: attempts.rows
          .filter((a) => a.delivery_id === d.id)
          .reverse()
          .map((a) => ({
            id: a.id,
            at: a.created_at.toISOString(),
            number: a.number,
            trigger: a.trigger,
            succeeded: a.succeeded,
            statusCode: a.status_code,
            durationMs: a.duration_ms,
            error: a.error,
            url: a.url,
            requestHeaders: a.request_headers,
            responseBody: a.response_body,
          })),
      })),
    },
    { headers },
  );
}

/** Resend one delivery of this message now: the same transaction and start as the API's resend. */
export async function action(args: ActionFunctionArgs) {
  const form = await csrfCheckedForm(args.request, args.context);
  const { message } = await requireMessage(args);
  const deliveryId = formText(form, 'delivery_id');
  const { db, starts } = args.context;
  const delivery = (await findMessageDeliveries(db, message.id)).find((d) => d.id === deliveryId);
   
  if (!delivery) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  const resend = await db.transaction().execute((trx) => requestResend(trx, delivery.id));
  if (resend.kind === 'endpoint_inactive') {
    return data({ deliveryId, error: 'The endpoint is disabled. Re-enable it on its subscriber’s page, then resend.' }, { status: 409 });
  }
  if (resend.kind === 'endpoint_deleted') return data({ deliveryId, error: 'The endpoint was deleted: this delivery cannot be resent.' }, { status: 409 });
  starts.startResend(resend.start);
  return { deliveryId, error: null };
}

export default function MessagePage() {
  const { csrf, app, message, deliveries } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  return (
    <>
      <p>
        <Link to={`/apps/${app.id}`}>{app.name}</Link> › <Link to={`/apps/${app.id}/logs`}>Logs</Link>
      </p>
      <h1>
        Message <code>{message.id}</code>
      </h1>
      <dl className="facts">
        <dt>Event type</dt>
        <dd>
          {message.eventType} (version {message.version})
        </dd>
        <dt>Event id</dt>
        <dd>{message.eventId ?? '—'}</dd>
        <dt>Accepted</dt>
        <dd>
          <time dateTime={message.createdAt}>{message.createdAt}</time>
        </dd>
      </dl>
      <h2>Payload</h2>
      <p>{message.overridePayload ? 'Sent exactly as below (override_payload).' : 'Sent as the data of the envelope {id, type, version, created, data}.'}</p>
      <pre className="payload">{message.payload}</pre>

      <h2>Deliveries</h2>
      {deliveries.length === 0 ? <p>No endpoint was subscribed to this event type and version when the message was accepted.</p> : null}
      {deliveries.map((d) => (
        <section key={d.id} className="delivery" aria-labelledby={`${d.id}-title`}>
          <h3 id={`${d.id}-title`}>
            {d.subscriber}: <span className={`status-${d.status}`}>{statusWords(d.status)}</span>
          </h3>
          <p>
            Delivery <code>{d.id}</code> to endpoint <code>{d.endpointId}</code>
            {d.reason ? (
              <>
                {' '}
                · why: <code>{d.reason}</code>
                {d.error ? ` — ${d.error}` : ''}
              </>
            ) : null}
          </p>
          <p>
            <a href={d.workflowUrl} target="_blank" rel="noreferrer">
              Open in Temporal
            </a>
          </p>
          {d.attempts.length === 0 ? (
            <p>No attempt yet.</p>
          ) : (
            <ol className="timeline">
              {d.attempts.map((a) => (
                <li key={a.id}>
                  <time dateTime={a.at}>{a.at.replace('T', ' ').slice(0, 23)}</time> · attempt #{a.number}
                  {a.trigger === 'automatic' ? '' : ` (${a.trigger === 'manual' ? 'resend' : a.trigger})`} ·{' '}
                  <strong>{a.succeeded ? 'Succeeded' : 'Failed'}</strong> {a.statusCode ?? ''} · {a.durationMs} ms
                  {a.error && !a.succeeded ? <div>{a.error}</div> : null}
                  <details>
                    <summary>Request headers sent to {a.url}</summary>
                    <pre>{Object.entries(a.requestHeaders).map(([name, value]) => `${name}: ${value}`).join('\n')}</pre>
                  </details>
                  {a.responseBody ? (
                    <details>
                      <summary>Response body</summary>
                      <pre>{a.responseBody}</pre>
                    </details>
                  ) : null}
                </li>
              ))}
            </ol>
          )}
          <Form method="post">
            <CsrfField token={csrf} />
            <input type="hidden" name="delivery_id" value={d.id} />
            <button type="submit">Resend</button>
            {outcome?.deliveryId === d.id ? (
              <p role="status">{outcome.error ?? 'Resent: a new run of this delivery has started. Reload to follow its attempts.'}</p>
            ) : null}
          </Form>
        </section>
      ))}
    </>
  );
}

function statusWords(status: string): string {
  return { pending: 'Pending', succeeded: 'Succeeded', failed: 'Failed', skipped: 'Skipped' }[status] ?? status;
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="message" />;
}
