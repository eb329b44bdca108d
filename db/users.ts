import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { User } from './database.ts';

export function findUser(db: Db, userId: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
}

/** Emails are stored lowercase, so the lookup is too. */
export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
}

export async function setUserPasswordHash(db: Db, userId: string, passwordHash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
}

/** The account's users, oldest first. */
export function listAccountUsers(db: Db, accountId: string): Promise<User[]> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

/** The account's user; undefined for another account's, so ids reveal nothing. */
export function findAccountUser(db: Db, accountId: string, userId: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).where('id', '=', userId).executeTakeFirst();
}

/**
 * The ids of the account's owners, locked until the transaction ends: two requests that each demote
 * or remove a different one of the last two owners run one after the other, and the second sees one owner.
 * Locked in id order, so such requests wait for each other rather than deadlock.
 */
export async function lockAccountOwners(db: Db, accountId: string): Promise<string[]> {
  const rows = await db.selectFrom('users').select('id').where('account_id', '=', accountId).where('role', '=', 'owner').orderBy('id').forUpdate().execute();
  return rows.map((row) => row.id);
}

export async function setUserRole(db: Db, userId: string, role: User['role']): Promise<void> {
  await db.updateTable('users').set({ role }).where('id', '=', userId).execute();
}

export async function deleteUser(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', userId).execute();
}

/** Fails with Postgres' unique violation (23505) when the email already has a user, in any account. */
export function createUser(db: Db, input: { accountId: string; email: string; name: string; passwordHash: string; role: User['role'] }): Promise<User> {
  return db
    .insertInto('users')
    .values({ id: newId('user'), account_id: input.accountId, email: input.email.toLowerCase(), name: input.name, password_hash: input.passwordHash, role: input.role })
    .returningAll()
    .executeTakeFirstOrThrow();
}
