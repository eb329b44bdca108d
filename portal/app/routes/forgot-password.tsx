import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { findUserByEmail } from '../../../db/users.ts';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { emailError, formText, invalidForm } from '../forms.server';
import { portalLog } from '../log.server';
import { passwordResetUrl } from '../password-reset.server';

export const meta: MetaFunction = () => [{ title: 'Reset your password · openhooks portal' }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { token, headers } = await csrfToken(request, context);
  return data({ csrf: token }, { headers });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const email = formText(form, 'email').toLowerCase();
  const invalid = emailError(email);
  if (invalid) return invalidForm({ email: invalid }, { email });

  const user = await findUserByEmail(context.db, email);
  if (user) {
    // Not awaited: the answer must not take longer when the address has an account.
    context.mailer
      .send({
        to: user.email,
        subject: 'Reset your openhooks password',
        text: [
          'Someone asked to reset the password of your openhooks portal login.',
          '',
          `Set a new password here (the link works once, for one hour):`,
          passwordResetUrl(context, user),
          '',
          'If it was not you, ignore this email: your password stays as it is.',
        ].join('\n'),
      })
      .catch((error: unknown) => portalLog(context).error('password reset email failed', { to: user.email, error }));
  }
  return { sent: true as const, email };
}

// Remix requires the route component to be the module's default export.
export default function ForgotPassword() {
  const { csrf } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (result && 'sent' in result) {
    return (
      <>
        <h1>Check your email</h1>
        <p role="status">
          If an account uses {result.email}, we sent it a link to set a new password. The link works once, for one hour.
        </p>
        <p>
          <Link to="/login">Back to log in</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Reset your password</h1>
      <p>Enter the email you log in with; we send you a link to set a new password.</p>
      <Form method="post" className="stack">
        <CsrfField token={csrf} />
        <Field label="Email" name="email" type="email" autoComplete="email" required defaultValue={result?.values.email} error={result?.errors.email} />
        <button type="submit">Send the link</button>
      </Form>
      <p>
        <Link to="/login">Back to log in</Link>
      </p>
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the password reset page" />;
}
