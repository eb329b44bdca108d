import type { AppLoadContext } from '@remix-run/node';
import { log, type Log } from '../../lib/log.ts';

/** The logger of the request being served: its lines carry the request id, like the API's. */
export function portalLog(context: AppLoadContext): Log {
  return context.log ?? log;
}
