import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { listPendingInvites, revokeInvite } from '../../../db/invites.ts';
import { deleteUser, findAccountUser, findUserByEmail, listAccountUsers, lockAccountOwners, setUserRole } from '../../../db/users.ts';
import { requireManagerForm, requireUser, type PortalUser } from '../auth.server';
import { ConfirmAction, IntentForm } from '../components/intent-form';
import { ErrorPage } from '../components/error-page';
import { Field, SelectField } from '../components/field';
import { FormError } from '../components/form-error';
import { csrfToken } from '../csrf.server';
import { collectErrors, emailError, formText } from '../forms.server';
import { sendInvite } from '../invites.server';
import { utcMinute } from '../utc-minute';

export const meta: MetaFunction = () => [{ title: 'Team · openhooks portal' }];

type Role = PortalUser['role'];
const ROLES: Role[] = ['owner', 'admin', 'member'];
const INVITE_ROLES = ['admin', 'member'] as const;
const LAST_OWNER = 'An account needs at least one owner: make someone else an owner first.';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const { token, headers } = await csrfToken(request, context);
  const [users, invites] = await Promise.all([listAccountUsers(context.db, user.accountId), listPendingInvites(context.db, user.accountId)]);
  return data(
    {
      csrf: token,
      me: { id: user.id, role: user.role },
      members: users.map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role })),
      invites: invites.map((i) => ({ id: i.id, email: i.email, role: i.role, expiresAt: utcMinute(i.expires_at) })),
      canManage: user.role !== 'member',
    },
    { headers },
  );
}

interface ActionResult {
  intent: 'invite' | 'role' | 'remove' | 'revoke';
  /** The member or invite the action was about. */
  id?: string;
  errors: Record<string, string>;
  values: Record<string, string>;
  done?: string;
}

const notFound = () => new Response('Not found', { status: 404, statusText: 'Not Found' });

export async function action({ request, context }: ActionFunctionArgs) {
  const { form, user } = await requireManagerForm(request, context);
  const intent = formText(form, 'intent');
  const { db } = context;

  if (intent === 'invite') {
    const values = { email: formText(form, 'email').toLowerCase(), role: formText(form, 'role') };
    const role = INVITE_ROLES.find((r) => r === values.role);
    const errors = collectErrors({ email: emailError(values.email), role: role ? undefined : 'Choose admin or member.' });
    if (!errors.email && (await findUserByEmail(db, values.email))) errors.email = 'This email already has a portal login, so it cannot join another account.';
    if (!role || Object.keys(errors).length > 0) return data<ActionResult>({ intent, errors, values }, { status: 400 });
    try {
      await sendInvite(context, user, { email: values.email, role });
    } catch (error) {
      return data<ActionResult>({ intent, errors: { form: `The invite email could not be sent (${(error as Error).message}). Try again later.` }, values }, { status: 502 });
    }
    return data<ActionResult>({ intent, errors: {}, values: {}, done: `Invite sent to ${values.email}. The link works once, for 7 days.` });
  }

  if (intent === 'revoke') {
    const revoked = await revokeInvite(db, user.accountId, formText(form, 'id'));
    if (!revoked) throw notFound();
    return data<ActionResult>({ intent, id: revoked.id, errors: {}, values: {}, done: `Invite to ${revoked.email} revoked: its link no longer works.` });
  }

  if (intent === 'role' || intent === 'remove') {
    const id = formText(form, 'id');
    const role = intent === 'role' ? ROLES.find((r) => r === formText(form, 'role')) : undefined;
    if (intent === 'role' && !role) return data<ActionResult>({ intent, id, errors: { role: 'Choose owner, admin or member.' }, values: {} }, { status: 400 });
    // Checked and changed under a lock on the owners, so two requests cannot each remove one of the last two.
    const outcome = await db.transaction().execute(async (trx) => {
      const owners = await lockAccountOwners(trx, user.accountId);
      const target = await findAccountUser(trx, user.accountId, id);
      if (!target) return { found: false as const };
      const touchesOwner = target.role === 'owner' || role === 'owner';
      // The locked list, not the session read before the lock, says whether the actor is still an owner.
      if (touchesOwner && !owners.includes(user.id)) return { found: true as const, target, error: 'Only an owner can make someone an owner, or change or remove an owner.' };
      const staysOwner = intent === 'role' && role === 'owner';
      if (target.role === 'owner' && !staysOwner && owners.length <= 1) return { found: true as const, target, error: LAST_OWNER };
      if (intent === 'role') await setUserRole(trx, target.id, role!);
      else await deleteUser(trx, target.id);
      return { found: true as const, target };
    });
    if (!outcome.found) throw notFound();
    const who = outcome.target.name ?? outcome.target.email;
    if (outcome.error) return data<ActionResult>({ intent, id, errors: { [intent]: outcome.error }, values: {} }, { status: outcome.error === LAST_OWNER ? 409 : 403 });
    return data<ActionResult>({ intent, id, errors: {}, values: {}, done: intent === 'role' ? `${who} is now ${role === 'admin' ? 'an admin' : `a ${role}`}.` : `${who} was removed from the account.` });
  }

  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

// Remix requires the route component to be the module's default export.
export default function Team() {
  const { csrf, me, members, invites, canManage } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const inviting = result?.intent === 'invite' ? result : undefined;
  const about = (id: string) => (result?.id === id ? result : undefined);

  return (
    <>
      <h1>Team</h1>
      <p>
        Owners and admins manage the team and API keys; only owners can make or change owners, and an account always keeps one. Members see everything and can
        resend deliveries, but cannot manage the team, API keys, or delete things.
      </p>
      {result?.done ? <p role="status">{result.done}</p> : null}

      {canManage ? (
        <>
          <h2>Invite someone</h2>
          <IntentForm csrf={csrf} intent="invite" className="stack">
            <FormError message={inviting?.errors.form} />
            <Field label="Email" name="email" type="email" autoComplete="off" required defaultValue={inviting?.done ? '' : inviting?.values.email} error={inviting?.errors.email} />
            <SelectField label="Role" name="role" options={roleOptions(INVITE_ROLES)} defaultValue={inviting?.done ? 'member' : (inviting?.values.role ?? 'member')} error={inviting?.errors.role} />
            <button type="submit">Send invite</button>
          </IntentForm>
        </>
      ) : (
        <p>Only owners and admins of your account can invite people or change roles.</p>
      )}

      <h2>Members</h2>
      <ul className="app-list">
        {members.map((member) => {
          const mine = about(member.id);
          const error = mine?.errors.role ?? mine?.errors.remove;
          return (
            <li key={member.id}>
              <h3 style={{ overflowWrap: 'anywhere' }}>
                {member.name ?? member.email}
                {member.id === me.id ? ' (you)' : ''}
              </h3>
              <p style={{ overflowWrap: 'anywhere' }}>
                {member.email} · {member.role}
              </p>
              {error ? (
                <p role="alert" className="field-error">
                  {error}
                </p>
              ) : null}
              {canManage ? (
                <>
                  <IntentForm csrf={csrf} intent="role" id={member.id}>
                    <SelectField label={`Role of ${member.name ?? member.email}`} name="role" options={roleOptions(ROLES)} defaultValue={member.role} />
                    <p>
                      <button type="submit">Change role</button>
                    </p>
                  </IntentForm>
                  <ConfirmAction
                    csrf={csrf}
                    intent="remove"
                    id={member.id}
                    verb="Remove"
                    what={member.name ?? member.email}
                    explanation="They can no longer log in to this account. Removing cannot be undone; invite them again to bring them back."
                    open={mine?.intent === 'remove' && !mine.done}
                  />
                </>
              ) : null}
            </li>
          );
        })}
      </ul>

      <h2>Pending invites</h2>
      {invites.length === 0 ? <p>No pending invites.</p> : null}
      <ul className="app-list">
        {invites.map((invite) => (
          <li key={invite.id}>
            <p style={{ overflowWrap: 'anywhere' }}>
              {invite.email} · {invite.role} · expires {invite.expiresAt}
            </p>
            {canManage ? (
              <IntentForm csrf={csrf} intent="revoke" id={invite.id}>
                <button type="submit">Revoke invite to {invite.email}</button>
              </IntentForm>
            ) : null}
          </li>
        ))}
      </ul>
    </>
  );
}

/** A role's option shows its own name. */
function roleOptions(roles: readonly Role[]): [Role, Role][] {
  return roles.map((role) => [role, role]);
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the team page" />;
}
