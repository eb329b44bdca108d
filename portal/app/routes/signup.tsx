import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { createAccount } from '../../../db/accounts.ts';
import { findUserByEmail } from '../../../db/users.ts';
import { optionalUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { MIN_PASSWORD_LENGTH } from '../password-rules';
import { collectErrors, emailError, formRaw, formText, invalidForm, newPasswordError, requiredTextError } from '../forms.server';
import { signedInSessionCookie } from '../session.server';

export const meta: MetaFunction = () => [{ title: 'Sign up · openhooks portal' }];

const EMAIL_TAKEN = 'An account already uses this email. Log in instead, or reset your password.';

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (await optionalUser(request, context)) return redirect('/');
  const { token, headers } = await csrfToken(request, context);
  return data({ csrf: token }, { headers });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const values = { account_name: formText(form, 'account_name'), name: formText(form, 'name'), email: formText(form, 'email').toLowerCase() };
  const password = formRaw(form, 'password');
  const errors = collectErrors({
    account_name: requiredTextError(values.account_name, 'Enter the name of your company or project.'),
    name: requiredTextError(values.name, 'Enter your name.'),
    email: emailError(values.email),
    password: newPasswordError(password),
  });
  if (!errors.email && (await findUserByEmail(context.db, values.email))) errors.email = EMAIL_TAKEN;
  if (Object.keys(errors).length > 0) return invalidForm(errors, values);

  let account;
  try {
    account = await createAccount(context.db, { name: values.account_name, email: values.email, password, ownerName: values.name });
  } catch (error) {
    // Another sign-up with this email committed between the check above and this insert.
    if ((error as { code?: unknown }).code === '23505') return invalidForm({ email: EMAIL_TAKEN }, values);
    throw error;
  }
  return redirect('/', { headers: { 'Set-Cookie': await signedInSessionCookie(context, account.userId) } });
}

// Remix requires the route component to be the module's default export.
export default function Signup() {
  const { csrf } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <>
      <h1>Create your account</h1>
      <p>An account holds your apps, your team and your API keys. You become its owner.</p>
      <Form method="post" className="stack">
        <CsrfField token={csrf} />
        <Field label="Account name" name="account_name" autoComplete="organization" required defaultValue={result?.values.account_name} error={result?.errors.account_name} hint="Your company or project." />
        <Field label="Your name" name="name" autoComplete="name" required defaultValue={result?.values.name} error={result?.errors.name} />
        <Field label="Email" name="email" type="email" autoComplete="email" required defaultValue={result?.values.email} error={result?.errors.email} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required error={result?.errors.password} hint={`At least ${MIN_PASSWORD_LENGTH} characters.`} />
        <button type="submit">Create account</button>
      </Form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the sign-up page" />;
}
