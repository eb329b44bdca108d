import { sql, type Insertable, type Updateable } from 'kysely';
import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { App, AppsTable } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

/** What a provider sets on an app: its name and its retry settings (null: the server's). */
export type AppFields = Omit<Insertable<AppsTable>, 'id' | 'account_id' | 'created_at' | 'updated_at'>;

export function listApps(db: Db, accountId: string, slice: PageSlice): Promise<PageOf<App>> {
  return fetchPage(newestFirst(db.selectFrom('apps').where('account_id', '=', accountId).selectAll()), slice);
}

export function createApp(db: Db, accountId: string, fields: AppFields): Promise<App> {
  return db.insertInto('apps').values({ id: newId('app'), account_id: accountId, ...fields }).returningAll().executeTakeFirstOrThrow();
}

/** Scoped by the account: another account's app is not found. */
export function findApp(db: Db, accountId: string, appId: string): Promise<App | undefined> {
  return db.selectFrom('apps').selectAll().where('id', '=', appId).where('account_id', '=', accountId).executeTakeFirst();
}

export function updateApp(db: Db, appId: string, changes: Omit<Updateable<AppsTable>, 'id' | 'account_id' | 'updated_at'>): Promise<App> {
  return db.updateTable('apps').set({ ...changes, updated_at: sql<Date>`now()` }).where('id', '=', appId).returningAll().executeTakeFirstOrThrow();
}
