import { Form } from '@remix-run/react';
import type { ReactNode } from 'react';
import { CsrfField } from './csrf-field';

/** A post form for one of a page's actions (`intent`), on one row (`id`) when given, carrying the CSRF token. */
export function IntentForm({ csrf, intent, id, className, children }: { csrf: string; intent: string; id?: string; className?: string; children: ReactNode }) {
  return (
    <Form method="post" className={className}>
      <CsrfField token={csrf} />
      <input type="hidden" name="intent" value={intent} />
      {id === undefined ? null : <input type="hidden" name="id" value={id} />}
      {children}
    </Form>
  );
}

/**
 * A destructive action behind a second click that works without scripts: a `<details>` naming the
 * action, what it means (or the error it met), and the confirming button.
 */
export function ConfirmAction(props: { csrf: string; intent: string; id: string; verb: string; what: string; explanation: string; error?: string; open?: boolean }) {
  return (
    <details open={props.open}>
      <summary>
        {props.verb} {props.what}…
      </summary>
      {props.error ? (
        <p role="alert" className="field-error">
          {props.error}
        </p>
      ) : (
        <p>{props.explanation}</p>
      )}
      <IntentForm csrf={props.csrf} intent={props.intent} id={props.id}>
        <button type="submit">
          Yes, {props.verb.toLowerCase()} {props.what}
        </button>
      </IntentForm>
    </details>
  );
}
