import type { LoaderFunctionArgs } from '@remix-run/node';
import { replayResource } from '../replays.server';
import { requireSubscriber } from '../subscriber-session.server';

/** One of this subscriber's replays as JSON, which the replay panel polls while it runs; anyone else's is a 404. */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const { subscriber } = await requireSubscriber(request, context);
  return replayResource(context.db, { subscriberId: subscriber.id }, params.replay_id, 'subscriber');
}
