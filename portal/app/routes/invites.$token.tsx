import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { markInviteAccepted } from '../../../db/invites.ts';
import { createUser, findUserByEmail } from '../../../db/users.ts';
import { hashPassword } from '../../../lib/secrets.ts';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { FormError } from '../components/form-error';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { collectErrors, formRaw, formText, invalidForm, newPasswordError } from '../forms.server';
import { inviteForToken, type InviteState } from '../invites.server';
import { MIN_PASSWORD_LENGTH } from '../password-rules';
import { signedInSessionCookie } from '../session.server';

export const meta: MetaFunction = () => [{ title: 'Accept an invite · openhooks portal' }];

const EMAIL_TAKEN = 'This email already has a portal login, in this or another account, so the invite cannot make a new one. Log in with it instead.';

/** Why a link no longer works, said to the person holding it. */
const UNUSABLE: Record<Exclude<InviteState['state'], 'pending'>, string> = {
  accepted: 'This invite was already accepted. Log in with the email and password chosen then.',
  expired: 'This invite has expired: invites work for 7 days. Ask the person who invited you for a new one.',
  invalid: 'This invite link is not valid: it was revoked, replaced by a newer invite, or changed on the way. Ask the person who invited you for a new one.',
};

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const found = await inviteForToken(context, params.token ?? '');
  const { token, headers } = await csrfToken(request, context);
  if (found.state !== 'pending') return data({ csrf: token, invite: null, problem: UNUSABLE[found.state] }, { headers, status: 400 });
  const { invite } = found;
  const taken = (await findUserByEmail(context.db, invite.email)) !== undefined;
  return data({ csrf: token, invite: { email: invite.email, role: invite.role, account: invite.account_name }, problem: taken ? EMAIL_TAKEN : null }, { headers, status: taken ? 409 : 200 });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await csrfCheckedForm(request, context);
  const found = await inviteForToken(context, params.token ?? '');
  if (found.state !== 'pending') return invalidForm({ form: UNUSABLE[found.state] }, { name: formText(form, 'name') });
  const values = { name: formText(form, 'name') };
  const password = formRaw(form, 'password');
  const errors = collectErrors({
    name: values.name.length > 200 ? 'Use at most 200 characters.' : values.name ? undefined : 'Enter your name.',
    password: newPasswordError(password),
  });
  if (Object.keys(errors).length > 0) return invalidForm(errors, values);

  const { invite } = found;
  const passwordHash = await hashPassword(password);
  let userId: string | undefined;
  try {
    // One transaction: the invite is used up exactly when the user exists.
    userId = await context.db.transaction().execute(async (trx) => {
      if (!(await markInviteAccepted(trx, invite.id))) return undefined;
      const user = await createUser(trx, { accountId: invite.account_id, email: invite.email, name: values.name, passwordHash, role: invite.role });
      return user.id;
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') return invalidForm({ form: EMAIL_TAKEN }, values, 409);
    throw error;
  }
  // Another request accepted it between the check above and the transaction.
  if (!userId) return invalidForm({ form: UNUSABLE.accepted }, values);
  return redirect('/', { headers: { 'Set-Cookie': await signedInSessionCookie(context, userId) } });
}

// Remix requires the route component to be the module's default export.
export default function AcceptInvite() {
  const { csrf, invite, problem } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (!invite) {
    return (
      <>
        <h1>This invite no longer works</h1>
        <p role="alert">{problem}</p>
        <p>
          <Link to="/login">Log in</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Join {invite.account} on openhooks</h1>
      <p>
        You were invited as {invite.role === 'admin' ? 'an admin' : 'a member'}, with the email {invite.email}. Choose your name and a password to finish.
      </p>
      {problem ? (
        <p role="alert" className="form-error">
          {problem} <Link to="/login">Log in</Link>
        </p>
      ) : (
        <Form method="post" className="stack">
          <CsrfField token={csrf} />
          <FormError message={result?.errors.form} />
          <Field label="Name" name="name" autoComplete="name" required defaultValue={result?.values.name} error={result?.errors.name} />
          <Field label="Password" name="password" type="password" autoComplete="new-password" required error={result?.errors.password} hint={`At least ${MIN_PASSWORD_LENGTH} characters.`} />
          <button type="submit">Accept invite and log in</button>
        </Form>
      )}
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the invite page" />;
}
