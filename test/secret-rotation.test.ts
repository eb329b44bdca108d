import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { SecretBox } from '../lib/secrets.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// Concurrent rotations of one endpoint's signing secret: each must move the secret that is current
// at its turn to previous_secret, so no rotation's secret is lost (a read-modify-write loses some).

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  // Records every change of an endpoint's secret: what it was, what it became, and what was kept as previous.
  await sql`create table secret_changes (n bigserial primary key, endpoint_id text, old_secret text, new_secret text, new_previous text)`.execute(stack.db);
  await sql`create function record_secret_change() returns trigger language plpgsql as $$ begin
    insert into secret_changes (endpoint_id, old_secret, new_secret, new_previous) values (new.id, old.secret, new.secret, new.previous_secret);
    return new; end $$`.execute(stack.db);
  await sql`create trigger record_secret_change after update of secret on endpoints for each row execute function record_secret_change()`.execute(stack.db);
});
afterAll(async () => {
  await stack?.close();
});

it('keeps the chain whole under 16 concurrent rotations: each one moves the then-current secret to previous', async () => {
  const { appId, endpointId, secret: original } = await seed(stack.api, 'http://127.0.0.1:9/hook');
  const route = `/apps/${appId}/endpoints/${endpointId}/secret/rotate`;
  const keys = Array.from({ length: 16 }, () => `whsec_${randomBytes(32).toString('base64')}`);
  const answers = await Promise.all(keys.map((key) => stack.api.post(route, { key })));
  answers.forEach((answer, i) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.key).toBe(keys[i]);
  });

  const box = new SecretBox(loadConfig(stack.env).encryptionKey!);
  const changes = await sql<{ old_secret: string; new_secret: string; new_previous: string }>`
    select old_secret, new_secret, new_previous from secret_changes where endpoint_id = ${endpointId} order by n`.execute(stack.db);
  const chain = changes.rows.map((c) => ({ old: box.decrypt(c.old_secret), current: box.decrypt(c.new_secret), previous: box.decrypt(c.new_previous) }));
  expect(chain).toHaveLength(keys.length);
  chain.forEach((change, i) => {
    expect(change.previous, `rotation ${i + 1} kept the secret it replaced`).toBe(change.old);
    expect(change.old, `rotation ${i + 1} replaced the secret the one before set`).toBe(i === 0 ? original : chain[i - 1]!.current);
  });
  expect(chain.map((c) => c.current).sort()).toEqual([...keys].sort());

  // What stays: the last rotation's key signs, with the one it replaced (from this burst) beside it.
  const endpoint = await stack.db.selectFrom('endpoints').select(['secret', 'previous_secret']).where('id', '=', endpointId).executeTakeFirstOrThrow();
  expect(box.decrypt(endpoint.secret)).toBe(chain.at(-1)!.current);
  expect(box.decrypt(endpoint.previous_secret!)).toBe(chain.at(-2)!.current);
  expect(box.decrypt(endpoint.previous_secret!)).not.toBe(original);
  expect((await stack.api.get(`/apps/${appId}/endpoints/${endpointId}/secret`)).body.key).toBe(chain.at(-1)!.current);
});
