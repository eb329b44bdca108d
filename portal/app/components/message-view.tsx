import type { ReactNode } from 'react';
import type { MessageView } from '../message.server';

// A message's page, for the provider's message page and the subscriber portal's: its facts and payload,
// then each delivery with its attempts as a timeline; each page adds its own controls to a delivery.

type Message = MessageView['message'];
type Delivery = MessageView['deliveries'][number];

export function MessageSummary({ message }: { message: Message }) {
  return (
    <>
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
      {message.payload === null ? (
        <p>
          Payload removed by the data retention policy on <time dateTime={message.payloadPurgedAt ?? undefined}>{message.payloadPurgedAt}</time>. The deliveries and their
          outcomes stay; the message can no longer be resent or replayed.
        </p>
      ) : (
        <>
          <p>{message.overridePayload ? 'Sent exactly as below (override_payload).' : 'Sent as the data of the envelope {id, type, version, created, data}.'}</p>
          <pre className="payload">{message.payload}</pre>
        </>
      )}
    </>
  );
}

function statusWords(status: string): string {
  return { pending: 'Pending', succeeded: 'Succeeded', failed: 'Failed', skipped: 'Skipped' }[status] ?? status;
}

/** One delivery: "<subscriber>: <status>", why it ended, `links`, its attempts oldest first, then `children` (its controls). */
export function DeliverySection({ delivery: d, links, children }: { delivery: Delivery; links?: ReactNode; children?: ReactNode }) {
  return (
    <section className="delivery" aria-labelledby={`${d.id}-title`}>
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
      {links}
      {d.attempts.length === 0 ? (
        <p>No attempt yet.</p>
      ) : (
        <ol className="timeline">
          {d.attempts.map((a) => (
            <li key={a.id}>
              <time dateTime={a.at}>{a.at.replace('T', ' ').slice(0, 23)}</time> · attempt #{a.number}
              {a.trigger === 'automatic' ? '' : ` (${a.trigger === 'manual' ? 'resend' : a.trigger})`} · <strong>{a.succeeded ? 'Succeeded' : 'Failed'}</strong> {a.statusCode ?? ''} ·{' '}
              {a.durationMs} ms
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
              {a.bodiesPurgedAt ? <div>Request and response bodies removed by the data retention policy.</div> : null}
            </li>
          ))}
        </ol>
      )}
      {children}
    </section>
  );
}
