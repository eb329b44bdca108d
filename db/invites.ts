import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { Invite } from './database.ts';

/**
 * A new invite; earlier pending invites to the same email in the account are withdrawn, so only the
 * newest link works. Stores the token's hash only: the link itself is mailed, never kept.
 */
export function createInvite(
  db: Db,
  input: { accountId: string; email: string; role: Invite['role']; tokenHash: string; invitedBy: string; expiresAt: Date },
): Promise<Invite> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('invites').where('account_id', '=', input.accountId).where('email', '=', input.email).where('accepted_at', 'is', null).execute();
    return trx
      .insertInto('invites')
      .values({ id: newId('invite'), account_id: input.accountId, email: input.email, role: input.role, token_hash: input.tokenHash, invited_by: input.invitedBy, expires_at: input.expiresAt })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Invites not yet accepted and not yet expired, soonest to expire first. */
export function listPendingInvites(db: Db, accountId: string): Promise<Invite[]> {
  return db
    .selectFrom('invites')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('accepted_at', 'is', null)
    .where('expires_at', '>', new Date())
    .orderBy('expires_at')
    .orderBy('id')
    .execute();
}

/** The invite a link's token hash names, with its account's name; accepted and expired ones too, so a page can say which. */
export function findInviteByTokenHash(db: Db, tokenHash: string) {
  return db
    .selectFrom('invites')
    .innerJoin('accounts', 'accounts.id', 'invites.account_id')
    .selectAll('invites')
    .select('accounts.name as account_name')
    .where('invites.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Withdraws a pending invite: its link stops working. Undefined when the account has no such pending invite. */
export function revokeInvite(db: Db, accountId: string, inviteId: string): Promise<Invite | undefined> {
  return db.deleteFrom('invites').where('id', '=', inviteId).where('account_id', '=', accountId).where('accepted_at', 'is', null).returningAll().executeTakeFirst();
}

/** Marks the invite accepted if it still is pending and unexpired; undefined when another request got there first. */
export function markInviteAccepted(db: Db, inviteId: string): Promise<Invite | undefined> {
  return db
    .updateTable('invites')
    .set({ accepted_at: new Date() })
    .where('id', '=', inviteId)
    .where('accepted_at', 'is', null)
    .where('expires_at', '>', new Date())
    .returningAll()
    .executeTakeFirst();
}
