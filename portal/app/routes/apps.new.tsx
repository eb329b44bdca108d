import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { AppIn } from '../../../api/apps.ts';
import { createApp } from '../../../db/apps.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors } from '../apps.server';
import { requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { Field } from '../components/field';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { formText } from '../forms.server';

export const meta: MetaFunction = () => [{ title: 'New app · openhooks portal' }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireUser(request, context);
  const { token, headers } = await csrfToken(request, context);
  return data({ csrf: token }, { headers });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const user = await requireUser(request, context);
  const values = { name: formText(form, 'name') };
  const parsed = AppIn.safeParse(values);
  if (!parsed.success) return data({ errors: fieldErrors(parsed.error), values }, { status: 400 });
  const app = await createApp(context.db, user.accountId, parsed.data);
  // A new app has nothing yet: getting started walks it through its first event type and message.
  return redirect(`/apps/${app.id}/getting-started`);
}

// Remix requires the route component to be the module's default export.
export default function NewApp() {
  const { csrf } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();

  return (
    <>
      <h1>New app</h1>
      <p>An app is one of your products that sends webhooks. Its event types, subscribers and logs are its own.</p>
      <Form method="post">
        <CsrfField token={csrf} />
        <Field label="Name" name="name" defaultValue={result?.values.name} error={result?.errors.name} hint="Such as “Shop” or “Billing”; your subscribers see it." required />
        <p>
          <button type="submit">Create app</button> <Link to="/">Cancel</Link>
        </p>
      </Form>
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="new app form" />;
}
