import type { TrustedKeys } from '../api/auth.ts';
import type { DeliveryStarts } from '../api/delivery-starts.ts';
import type { Mailer } from '../activities/mailer.ts';
import type { Db } from '../db/connection.ts';
import type { Config } from '../lib/config.ts';
import type { Log } from '../lib/log.ts';
import type { SecretBox } from '../lib/secrets.ts';

/**
 * What every portal loader and action gets as `context`: the server's own database pool, secrets,
 * configuration, mailer and delivery starts, so the portal reads and acts exactly as the API does
 * (never through HTTP calls to the API).
 */
// A type, not an interface, so it fits Remix's index-signature AppLoadContext.
export type PortalContext = {
  db: Db;
  secrets: SecretBox;
  config: Config;
  mailer: Mailer;
  starts: DeliveryStarts;
  /** The API's verified keys in this process: a key revoked in the portal is forgotten there at once. */
  trustedKeys: TrustedKeys;
  /** The client's address (behind a trusted proxy, the one it reports), for per-address login throttling. */
  clientAddress?: string;
  /** The request's logger, whose lines carry its request id (see portalLog). */
  log?: Log;
};

declare module '@remix-run/server-runtime' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Remix's declaration merging point
  interface AppLoadContext extends PortalContext {}
}
