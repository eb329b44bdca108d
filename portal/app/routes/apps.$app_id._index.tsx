import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { countAttemptsSince } from '../../../db/attempts.ts';
import { countEndpointsByStatus, listDisabledEndpoints } from '../../../db/endpoints.ts';
import { deliveryOutcomes } from '../../../db/deliveries.ts';
import { countMessagesSince } from '../../../db/messages.ts';
import { countSubscribers } from '../../../db/subscribers.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';
import { bucketView, OutcomeChart } from '../components/outcome-chart';
import { utcMinute } from '../utc-minute';

const HOUR_MS = 3_600_000;
/** The overview lists this many disabled endpoints; the subscribers page has them all. */
const DISABLED_SHOWN = 10;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const now = Date.now();
  const windows = [
    { label: 'Last 24 hours', since: new Date(now - 24 * HOUR_MS) },
    { label: 'Last 7 days', since: new Date(now - 7 * 24 * HOUR_MS) },
  ];
  const [subscribers, endpoints, disabled, activity, hourly, daily] = await Promise.all([
    countSubscribers(context.db, app.id),
    countEndpointsByStatus(context.db, app.id),
    listDisabledEndpoints(context.db, [app.id], DISABLED_SHOWN),
    Promise.all(
      windows.map(async ({ label, since }) => {
        const [messages, attempts] = await Promise.all([countMessagesSince(context.db, app.id, since), countAttemptsSince(context.db, app.id, since)]);
        return { label, messages, attempts: attempts.total, succeeded: attempts.succeeded };
      }),
    ),
    deliveryOutcomes(context.db, [app.id], windows[0]!.since, 'hour'),
    deliveryOutcomes(context.db, [app.id], windows[1]!.since, 'day'),
  ]);
  return {
    app: { id: app.id, name: app.name },
    subscribers,
    endpoints,
    disabled: disabled.map((endpoint) => ({ ...endpoint, disabled_at: endpoint.disabled_at && utcMinute(endpoint.disabled_at) })),
    activity,
    charts: { hourly: hourly.map(bucketView), daily: daily.map(bucketView) },
  };
}

function successRate(succeeded: number, total: number): string {
  return total === 0 ? 'no attempts' : `${Math.round((succeeded / total) * 1000) / 10} %`;
}

// Remix requires the route component to be the module's default export.
export default function AppOverview() {
  const { app, subscribers, endpoints, disabled, activity, charts } = useLoaderData<typeof loader>();
  const base = `/apps/${app.id}`;

  return (
    <>
      <h1>{app.name}</h1>
      <nav aria-label="App">
        <ul>
          <li>
            <Link to={`${base}/getting-started`}>Getting started</Link>
          </li>
          <li>
            <Link to={`${base}/event-types`}>Event types</Link>
          </li>
          <li>
            <Link to={`${base}/subscribers`}>Subscribers</Link>
          </li>
          <li>
            <Link to={`${base}/logs`}>Logs</Link>
          </li>
          <li>
            <Link to={`${base}/settings`}>Settings</Link>
          </li>
        </ul>
      </nav>

      <h2>Subscribers and endpoints</h2>
      <ul>
        <li>
          <Link to={`${base}/subscribers`}>
            {subscribers} {subscribers === 1 ? 'subscriber' : 'subscribers'}
          </Link>
        </li>
        <li>{endpoints.active} active endpoints</li>
        <li>{endpoints.inactive} disabled endpoints</li>
      </ul>

      {disabled.length > 0 ? (
        <>
          <h3>Disabled endpoints</h3>
          <p>These endpoints receive nothing until they are enabled again; their subscribers can then replay what they missed.</p>
          <ul>
            {disabled.map((endpoint) => (
              <li key={endpoint.id}>
                <Link to={`${base}/subscribers/${endpoint.subscriber_id}`}>{endpoint.url}</Link> of {endpoint.subscriber_name}
                {endpoint.disabled_at ? `, disabled ${endpoint.disabled_at}` : ''}
                {endpoint.disabled_reason ? `: ${endpoint.disabled_reason}` : ''}
              </li>
            ))}
          </ul>
          {endpoints.inactive > disabled.length ? (
            <p>
              {endpoints.inactive - disabled.length} more on the <Link to={`${base}/subscribers`}>subscribers page</Link>.
            </p>
          ) : null}
        </>
      ) : null}

      <h2>Activity</h2>
      <OutcomeChart title="Deliveries per hour, last 24 hours" buckets={charts.hourly} unit="hour" />
      <OutcomeChart title="Deliveries per day, last 7 days" buckets={charts.daily} unit="day" />
      <div style={{ overflowX: 'auto' }}>
        <table>
          <thead>
            <tr>
              <th scope="col">Period</th>
              <th scope="col">Messages</th>
              <th scope="col">Attempts</th>
              <th scope="col">Succeeded</th>
              <th scope="col">Success rate</th>
            </tr>
          </thead>
          <tbody>
            {activity.map((period) => (
              <tr key={period.label}>
                <th scope="row">{period.label}</th>
                <td>{period.messages}</td>
                <td>{period.attempts}</td>
                <td>{period.succeeded}</td>
                <td>{successRate(period.succeeded, period.attempts)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        Every attempt, with its answer, is in the <Link to={`${base}/logs`}>logs</Link>.
      </p>
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="app overview" />;
}
