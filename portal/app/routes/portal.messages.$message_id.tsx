import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { DeliverySection, MessageSummary } from '../components/message-view';
import { messageView } from '../message.server';
import { requireSubscriber } from '../subscriber-session.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Message ${data?.message.id ?? ''} · ${data?.app.name ?? 'Webhook'} portal` }];

/** A message as it reached this subscriber: its deliveries to the subscriber's endpoints only; one that reached none of them is a 404. */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const { app, subscriber } = await requireSubscriber(request, context);
  const view = await messageView(context.db, app.id, params.message_id, { subscriberId: subscriber.id });
  if (!view) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  return { app: { name: app.name }, ...view };
}

// Remix requires the route component to be the module's default export.
export default function SubscriberMessage() {
  const { message, deliveries } = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to="/portal/logs">Logs</Link>
      </p>
      <MessageSummary message={message} />
      <h2>Deliveries to your endpoints</h2>
      {deliveries.map((d) => (
        <DeliverySection
          key={d.id}
          delivery={d}
          links={
            <p>
              <Link to={`/portal/endpoints/${d.endpointId}`}>Endpoint {d.endpointId}</Link>
            </p>
          }
        />
      ))}
    </>
  );
}
