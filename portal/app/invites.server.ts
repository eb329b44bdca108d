import { createHash, randomBytes } from 'node:crypto';
import type { AppLoadContext } from '@remix-run/node';
import type { Invite } from '../../db/database.ts';
import { createInvite, findInviteByTokenHash, revokeInvite } from '../../db/invites.ts';
import { signToken, verifyToken } from '../../lib/tokens.ts';
import type { PortalUser } from './auth.server';
import { utcMinute } from './utc-minute';

export const INVITE_TTL_MS = 7 * 24 * 60 * 60_000;

const inviteKey = (context: AppLoadContext): Buffer => context.secrets.deriveKey('portal-invite');

/** The table keeps this digest only, so a database dump holds no working link. */
const tokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Creates the invite and mails its link (signed, expiring in 7 days, single use); when the mail fails, no invite is left. */
export async function sendInvite(context: AppLoadContext, from: PortalUser, input: { email: string; role: Invite['role'] }, now = Date.now()): Promise<Invite> {
  // The nonce makes every link different, even two to one email in the same second, so a newer one replaces the older.
  const { token, expiresAt } = signToken(inviteKey(context), { email: input.email, nonce: randomBytes(12).toString('base64url') }, INVITE_TTL_MS, now);
  const invite = await createInvite(context.db, { accountId: from.accountId, email: input.email, role: input.role, tokenHash: tokenHash(token), invitedBy: from.id, expiresAt });
  const link = `${context.config.publicUrl}/invites/${token}`;
  const mail = {
    to: input.email,
    subject: `${from.name ?? from.email} invited you to openhooks`,
    text: [
      `${from.name ?? from.email} (${from.email}) invited you to their openhooks account as ${input.role === 'admin' ? 'an admin' : 'a member'}.`,
      '',
      `Accept the invite and choose your password: ${link}`,
      '',
      `The link works once, until ${utcMinute(expiresAt)}. If you did not expect it, ignore this email.`,
    ].join('\n'),
  };
  try {
    await context.mailer.send(mail);
  } catch (error) {
    // A pending invite nobody received would only confuse.
    await revokeInvite(context.db, from.accountId, invite.id);
    throw error;
  }
  return invite;
}

export type InviteState =
  | { state: 'pending'; invite: NonNullable<Awaited<ReturnType<typeof findInviteByTokenHash>>> }
  | { state: 'accepted' | 'expired' | 'invalid' };

/**
 * What an invite link leads to. The stored hash tells a used or expired link from one that was
 * revoked or changed (`invalid`); the signature is checked as well, so a link is only as good as both.
 */
export async function inviteForToken(context: AppLoadContext, token: string, now = Date.now()): Promise<InviteState> {
  const invite = token ? await findInviteByTokenHash(context.db, tokenHash(token)) : undefined;
  if (!invite) return { state: 'invalid' };
  if (invite.accepted_at) return { state: 'accepted' };
  if (invite.expires_at.getTime() <= now) return { state: 'expired' };
  const claims = verifyToken<{ email?: unknown }>(inviteKey(context), token, now);
  if (claims?.email !== invite.email) return { state: 'invalid' };
  return { state: 'pending', invite };
}
