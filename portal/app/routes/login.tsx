import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { hashPassword, verifyPassword } from '../../../lib/secrets.ts';
import { findUserByEmail } from '../../../db/users.ts';
import { optionalUser, safeRedirect } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { FormError } from '../components/form-error';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { formRaw, formText, invalidForm } from '../forms.server';
import { LOGIN_THROTTLE_MINUTES, loginThrottle, loginThrottleKeys } from '../login-throttle.server';
import { signedInSessionCookie } from '../session.server';

export const meta: MetaFunction = () => [{ title: 'Log in · openhooks portal' }];

const WRONG_LOGIN = 'That email and password do not match an account. Check both, or reset your password.';

// An unknown email is checked against this hash, so it takes as long to refuse as a wrong password.
let unknownUserHash: Promise<string> | undefined;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const redirectTo = safeRedirect(new URL(request.url).searchParams.get('redirectTo'));
  if (await optionalUser(request, context)) return redirect(redirectTo);
  const { token, headers } = await csrfToken(request, context);
  return data({ csrf: token, redirectTo }, { headers });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const email = formText(form, 'email').toLowerCase();
  const password = formRaw(form, 'password');
  const values = { email };

  const throttle = loginThrottle(context);
  const keys = loginThrottleKeys(email, context);
  if (await throttle.blocked(keys)) {
    const message = `Too many failed logins. Wait ${LOGIN_THROTTLE_MINUTES} minutes and try again, or reset your password.`;
    return invalidForm({ form: message }, values, 429);
  }

  const user = email ? await findUserByEmail(context.db, email) : undefined;
  const matches = await verifyPassword(password, user?.password_hash ?? (await (unknownUserHash ??= hashPassword('no such user'))));
  if (!user || !matches) {
    await throttle.recordFailure(keys);
    return invalidForm({ form: WRONG_LOGIN }, values);
  }
  await throttle.clear(`email:${email}`);
  return redirect(safeRedirect(form.get('redirectTo')), { headers: { 'Set-Cookie': await signedInSessionCookie(context, user.id) } });
}

// Remix requires the route component to be the module's default export.
export default function Login() {
  const { csrf, redirectTo } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <>
      <h1>Log in</h1>
      <Form method="post" className="stack">
        <CsrfField token={csrf} />
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <FormError message={result?.errors.form} />
        <Field label="Email" name="email" type="email" autoComplete="username" required defaultValue={result?.values.email} error={result?.errors.email} />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required error={result?.errors.password} />
        <button type="submit">Log in</button>
      </Form>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link> · New here? <Link to="/signup">Create an account</Link>
      </p>
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the login page" />;
}
