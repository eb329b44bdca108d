import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { setUserPasswordHash } from '../../../db/users.ts';
import { hashPassword } from '../../../lib/secrets.ts';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { MIN_PASSWORD_LENGTH } from '../password-rules';
import { formRaw, invalidForm, newPasswordError } from '../forms.server';
import { userForResetToken } from '../password-reset.server';
import { signedInSessionCookie } from '../session.server';

export const meta: MetaFunction = () => [{ title: 'Set a new password · openhooks portal' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const user = await userForResetToken(context, params.token ?? '');
  const { token, headers } = await csrfToken(request, context);
  return data({ csrf: token, valid: user !== undefined, email: user?.email ?? null }, { headers, status: user ? 200 : 400 });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const user = await userForResetToken(context, params.token ?? '');
  if (!user) return invalidForm({ form: 'This link has expired or was already used.' }, {});
  const password = formRaw(form, 'password');
  const invalid = newPasswordError(password);
  if (invalid) return invalidForm({ password: invalid }, {});
  // Changing the hash is what makes this link (and any other sent before) stop working.
  await setUserPasswordHash(context.db, user.id, await hashPassword(password));
  return redirect('/', { headers: { 'Set-Cookie': await signedInSessionCookie(context, user.id) } });
}

// Remix requires the route component to be the module's default export.
export default function ResetPassword() {
  const { csrf, valid, email } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (!valid || result?.errors.form) {
    return (
      <>
        <h1>This link no longer works</h1>
        <p role="alert">Password reset links work once, for one hour. Ask for a new one.</p>
        <p>
          <Link to="/forgot-password">Send me a new link</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Set a new password</h1>
      <p>For {email}.</p>
      <Form method="post" className="stack">
        <CsrfField token={csrf} />
        <Field label="New password" name="password" type="password" autoComplete="new-password" required error={result?.errors.password} hint={`At least ${MIN_PASSWORD_LENGTH} characters.`} />
        <button type="submit">Set password and log in</button>
      </Form>
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the password reset page" />;
}
