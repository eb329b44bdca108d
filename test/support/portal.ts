import type { AppLoadContext } from '@remix-run/node';
import { createMailer } from '../../activities/mailer.ts';
import { TrustedKeys } from '../../api/auth.ts';
import { DeliveryStarts } from '../../api/delivery-starts.ts';
import { withTemporalAddress } from '../../cli/runtime.ts';
import { createDb, migrateToLatest } from '../../db/connection.ts';
import { loadConfig } from '../../lib/config.ts';
import { SecretBox } from '../../lib/secrets.ts';
import { TemporalGateway } from '../../lib/temporal.ts';
import { csrfToken } from '../../portal/app/csrf.server.ts';
import { signedInSessionCookie } from '../../portal/app/session.server.ts';
import { subscriberCsrfToken, subscriberSessionCookie } from '../../portal/app/subscriber-session.server.ts';
import { createTestDatabase, testEnv } from './stack.ts';

const ORIGIN = 'http://openhooks.test';

export interface PortalTestContext {
  context: AppLoadContext;
  close(): Promise<void>;
}

/**
 * What the server gives portal loaders and actions, built as cli/server.ts builds it, on a fresh
 * migrated database. The delivery starts connect to Temporal only when a route starts something.
 */
export async function createPortalContext(): Promise<PortalTestContext> {
  const database = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: database.url });
  const config = withTemporalAddress(loadConfig(env), env.TEMPORAL_ADDRESS!);
  const db = createDb(database.url, 3);
  await migrateToLatest(db);
  const temporal = new TemporalGateway(config.temporal);
  const mailer = createMailer({ smtpUrl: undefined, from: config.mailFrom, dataDir: config.dataDir });
  const context: AppLoadContext = { db, secrets: new SecretBox(config.encryptionKey!), config, mailer, starts: new DeliveryStarts(db, temporal, config), trustedKeys: new TrustedKeys() };
  return {
    context,
    async close() {
      await context.starts.stop(0);
      await temporal.close();
      mailer.close();
      await db.destroy();
      await database.drop();
    },
  };
}

/** A signed-in browser: its session cookie and the CSRF token its forms carry. */
export interface SignedIn {
  cookie: string;
  csrf: string;
}

/** Signs the user in the way /login does, with the session cookie it sets. */
export async function signIn(context: AppLoadContext, userId: string): Promise<SignedIn> {
  const setCookie = await signedInSessionCookie(context, userId);
  const cookie = setCookie.split(';')[0]!;
  const { token } = await csrfToken(new Request(ORIGIN, { headers: { cookie } }), context);
  return { cookie, csrf: token };
}

/**
 * Opens a subscriber's portal session as /portal/login/:token does once the link checks out, with
 * the cookie it sets; `link` sets when the link was issued and when it expires (ms; default: now, in 24 h).
 */
export async function signInSubscriber(context: AppLoadContext, subscriberId: string, link: { issuedAt?: number; expiresAt?: number } = {}): Promise<SignedIn> {
  const issuedAt = link.issuedAt ?? Date.now();
  const setCookie = await subscriberSessionCookie(context, { subscriberId, issuedAt, expiresAt: link.expiresAt ?? issuedAt + 24 * 60 * 60 * 1000 });
  const cookie = setCookie.split(';')[0]!;
  return { cookie, csrf: await subscriberCsrfToken(new Request(ORIGIN, { headers: { cookie } }), context) };
}

/** A page load as the browser sends it (`who` undefined: signed out). */
export function pageRequest(path: string, who?: SignedIn): Request {
  return new Request(`${ORIGIN}${path}`, { headers: who ? { cookie: who.cookie } : {} });
}

/** A form post with the CSRF token (unless `fields` says otherwise) and the session cookie. */
export function formRequest(path: string, who: SignedIn | undefined, fields: Record<string, string>): Request {
  const body = new URLSearchParams({ ...(who ? { csrf: who.csrf } : {}), ...fields });
  return new Request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(who ? { cookie: who.cookie } : {}) },
    body,
  });
}

/** What a loader or action answered, whether it returned or threw it. */
export interface Outcome {
  status: number;
  /** A redirect's target. */
  location?: string | null;
  headers?: Headers;
  body?: any;
}

/** Runs a loader or action and reads its answer: a Response, `data()` with its status and headers, or plain data. */
export async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  const read = (value: unknown): Outcome => {
    if (value instanceof Response) return { status: value.status, location: value.headers.get('location') };
    if (value && typeof value === 'object' && (value as any).type === 'DataWithResponseInit') {
      return { status: (value as any).init?.status ?? 200, headers: new Headers((value as any).init?.headers), body: (value as any).data };
    }
    return { status: 200, body: value };
  };
  try {
    return read(await run());
  } catch (thrown) {
    if (thrown instanceof Response) return read(thrown);
    throw thrown;
  }
}
