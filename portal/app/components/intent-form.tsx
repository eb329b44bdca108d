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
