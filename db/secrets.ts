import type { SecretBox } from '../lib/secrets.ts';
import type { Db } from './connection.ts';

const BATCH = 500;

/**
 * Encrypts again, with the current key, every endpoint secret written with an older one. Safe to
 * run while the system runs and to run twice; returns how many endpoints changed.
 */
export async function reencryptSecrets(db: Db, secrets: SecretBox): Promise<number> {
  let changed = 0;
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('endpoints').select(['id', 'secret', 'previous_secret']).where('id', '>', after).orderBy('id').limit(BATCH).execute();
    for (const row of rows) {
      const stale = secrets.isStale(row.secret) || (row.previous_secret !== null && secrets.isStale(row.previous_secret));
      if (!stale) continue;
      await db
        .updateTable('endpoints')
        .set({
          secret: secrets.encrypt(secrets.decrypt(row.secret)),
          previous_secret: row.previous_secret === null ? null : secrets.encrypt(secrets.decrypt(row.previous_secret)),
        })
        // Only if nobody rotated it meanwhile.
        .where('id', '=', row.id)
        .where('secret', '=', row.secret)
        .execute();
      changed++;
    }
    if (rows.length < BATCH) return changed;
    after = rows[rows.length - 1]!.id;
  }
}
