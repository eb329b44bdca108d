import type { Selectable } from 'kysely';
import type { Db } from './connection.ts';
import type { UsersTable } from './database.ts';

/** A portal login of an account. (Beside the other row types in database.ts once that file's owner moves it.) */
export type User = Selectable<UsersTable>;

export function findUser(db: Db, userId: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
}

/** Emails are stored lowercase, so the lookup is too. */
export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
}

export async function setUserName(db: Db, userId: string, name: string): Promise<void> {
  await db.updateTable('users').set({ name }).where('id', '=', userId).execute();
}

export async function setUserPasswordHash(db: Db, userId: string, passwordHash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
}
