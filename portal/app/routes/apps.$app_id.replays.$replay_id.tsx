import type { LoaderFunctionArgs } from '@remix-run/node';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';
import { replayResource } from '../replays.server';

/**
 * A replay of this app as JSON, which the replay panel polls while it runs; another account's or
 * app's replay is a 404. Any role may read it: members follow replays too.
 */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  return replayResource(context.db, { appId: app.id }, params.replay_id, 'provider');
}
