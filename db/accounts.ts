import { newId } from '../lib/ids.ts';
import { hashPassword, newApiKey } from '../lib/secrets.ts';
import { createApiKey } from './api-keys.ts';
import type { Db } from './connection.ts';

export interface NewAccount {
  accountId: string;
  userId: string;
  /** Shown once: only its hash is stored. */
  apiKey: string;
}

/** An account with its owner user and a first API key, in one transaction. */
export async function createAccount(db: Db, input: { name: string; email: string; password: string; ownerName?: string }): Promise<NewAccount> {
  const passwordHash = await hashPassword(input.password);
  const key = newApiKey();
  return db.transaction().execute(async (trx) => {
    const accountId = newId('account');
    const userId = newId('user');
    await trx.insertInto('accounts').values({ id: accountId, name: input.name }).execute();
    await trx
      .insertInto('users')
      .values({ id: userId, account_id: accountId, email: input.email.toLowerCase(), name: input.ownerName ?? null, password_hash: passwordHash, role: 'owner' })
      .execute();
    await createApiKey(trx, accountId, 'default', key);
    return { accountId, userId, apiKey: key.key };
  });
}
