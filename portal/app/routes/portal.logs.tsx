import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';
import { eventTypesOf } from '../../../db/event-types.ts';
import { attemptLogView } from '../attempt-log.server';
import { AttemptFilters, AttemptTable } from '../components/attempt-log';
import { subscriberEndpoints } from '../subscriber-portal.server';
import { requireSubscriber } from '../subscriber-session.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Logs · ${data?.app.name ?? 'Webhook'} portal` }];

/** The subscriber's own attempts, with the provider's filters (less the subscriber filter) and keyset pages. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const signedIn = await requireSubscriber(request, context);
  const { app, subscriber } = signedIn;
  const [log, endpoints, eventTypes] = await Promise.all([
    attemptLogView(context.db, app.id, new URL(request.url).searchParams, { subscriberId: subscriber.id }),
    subscriberEndpoints(context, signedIn),
    eventTypesOf(context.db, app.id),
  ]);
  return {
    app: { name: app.name },
    ...log,
    attempts: log.attempts.map(({ subscriberId: _, ...a }) => a),
    endpoints: endpoints.map((e) => ({ id: e.id, url: e.url })),
    eventTypes: eventTypes.map((t) => t.name),
  };
}

// Remix requires the route component to be the module's default export.
export default function SubscriberLogs() {
  const { app, values, errors, paged, next, attempts, endpoints, eventTypes } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Logs</h1>
      <p>Every request {app.name} made to your endpoints, newest first. The filters live in the address, so you can keep the link.</p>
      <AttemptFilters values={values} errors={errors} endpoints={endpoints} eventTypes={eventTypes} />
      <AttemptTable
        attempts={attempts}
        values={values}
        errors={errors}
        paged={paged}
        next={next}
        messageHref={(messageId) => `/portal/messages/${messageId}`}
        empty="No attempts match. Loosen the filters, or send a test message from one of your endpoints."
      />
    </>
  );
}
