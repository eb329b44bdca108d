import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { listEndpoints } from '../../../db/endpoints.ts';
import { eventTypesOf } from '../../../db/event-types.ts';
import { listSubscribers } from '../../../db/subscribers.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { attemptLogView } from '../attempt-log.server';
import { requireUser } from '../auth.server';
import { AttemptFilters, AttemptTable } from '../components/attempt-log';

/** The filter lists show this many subscribers and endpoints at most; beyond, the search field finds a message. */
const CHOICES = 500;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Logs · ${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const [log, subscribers, endpoints, eventTypes] = await Promise.all([
    attemptLogView(context.db, app.id, new URL(request.url).searchParams),
    listSubscribers(context.db, app.id, { limit: CHOICES, offset: 0 }),
    listEndpoints(context.db, { appId: app.id }, { limit: CHOICES, offset: 0 }),
    eventTypesOf(context.db, app.id),
  ]);
  const subscriberNames = new Map(subscribers.rows.map((s) => [s.id, s.name]));
  return {
    app: { id: app.id, name: app.name },
    ...log,
    attempts: log.attempts.map(({ subscriberId, ...a }) => ({ ...a, subscriber: subscriberNames.get(subscriberId) ?? subscriberId })),
    subscribers: subscribers.rows.map((s) => ({ id: s.id, name: s.name })),
    endpoints: endpoints.rows.map((e) => ({ id: e.id, url: e.url })),
    eventTypes: eventTypes.map((t) => t.name),
  };
}

export default function Logs() {
  const { app, values, errors, paged, next, attempts, subscribers, endpoints, eventTypes } = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to={`/apps/${app.id}`}>{app.name}</Link>
      </p>
      <h1>Logs</h1>
      <p>Every delivery attempt of this app, newest first. The filters live in the address, so you can share the link.</p>
      <AttemptFilters values={values} errors={errors} subscribers={subscribers} endpoints={endpoints} eventTypes={eventTypes} />
      <AttemptTable
        attempts={attempts}
        values={values}
        errors={errors}
        paged={paged}
        next={next}
        messageHref={(messageId) => `/apps/${app.id}/messages/${messageId}`}
        empty="No attempts match. Send a message to one of this app’s endpoints, or loosen the filters."
      />
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="logs" />;
}
