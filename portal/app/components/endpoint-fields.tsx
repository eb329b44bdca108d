import { useId } from 'react';
import type { EndpointView } from '../endpoints.server';
import { Field } from './field';

// The parts of an endpoint's page that the provider's subscriber page and the subscriber portal share.

/** The event types an endpoint receives, of those the app has. */
export function receivedEventTypes(enabled: EndpointView['enabledEvents'], appEventTypes: readonly string[]): string[] {
  return enabled === '*' ? [...appEventTypes] : appEventTypes.filter((name) => enabled.includes(name));
}

/** What an endpoint form's action answered: its errors and typed values, or `done`. */
export interface EndpointFormResult {
  errors: Record<string, string>;
  values: Record<string, string | string[]>;
  done?: string;
}

/** A time as the endpoint pages show it: `2026-12-02 09:15:07 UTC`. */
export function utcSecond(iso: string): string {
  return `${iso.replace('T', ' ').slice(0, 19)} UTC`;
}

/** URL, description, version and enabled events, for a new endpoint or to edit one (see endpointForm). */
export function EndpointFields({ endpoint, result, eventTypes }: { endpoint?: Pick<EndpointView, 'url' | 'description' | 'version' | 'enabledEvents'>; result?: EndpointFormResult; eventTypes: string[] }) {
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

/** Status (and why and since when it is disabled), description, version, events and the 24 h error rate. */
export function EndpointFacts({ endpoint }: { endpoint: EndpointView }) {
  return (
    <dl>
      <dt>Status</dt>
      <dd>
        <strong>{endpoint.status === 'active' ? 'Enabled' : 'Disabled'}</strong>
        {endpoint.status === 'inactive' ? ` — ${endpoint.disabledReason ?? 'no reason recorded'}${endpoint.disabledAt ? `, since ${utcSecond(endpoint.disabledAt)}` : ''}` : null}
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
  );
}

/** A revealed signing secret, and until when the previous one still signs. */
export function SigningSecretShown({ secret }: { secret: { key: string; previousKeyExpiresAt: string | null } }) {
  const id = useId();
  return (
    <p>
      <label htmlFor={`${id}-secret`}>Signing secret</label> <input id={`${id}-secret`} readOnly value={secret.key} size={50} style={{ maxWidth: '100%' }} />
      <br />
      {secret.previousKeyExpiresAt ? `The previous secret still signs until ${utcSecond(secret.previousKeyExpiresAt)}.` : 'No previous secret signs any more.'}
    </p>
  );
}

/** The event type a test message is sent as, of those the endpoint receives. */
export function TestEventTypeField({ received, chosen, error }: { received: string[]; chosen?: string; error?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={`${id}-event-type`}>Event type</label>
      <select id={`${id}-event-type`} name="event_type" defaultValue={chosen ?? ''} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-event-type-error` : undefined}>
        {received.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      {error ? (
        <p id={`${id}-event-type-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
