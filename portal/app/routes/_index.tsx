import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useRouteError } from '@remix-run/react';
import { listApps } from '../../../db/apps.ts';
import { deliveryOutcomes, deliveryTotalsByApp } from '../../../db/deliveries.ts';
import { listDisabledEndpoints } from '../../../db/endpoints.ts';
import { requireUser } from '../auth.server';
import { ErrorPage } from '../components/error-page';
import { bucketView, OutcomeChart } from '../components/outcome-chart';
import { utcMinute } from '../utc-minute';

export const meta: MetaFunction = () => [{ title: 'Dashboard · openhooks portal' }];

const APPS_SHOWN = 200;
const DISABLED_SHOWN = 20;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const apps = await listApps(context.db, user.accountId, { limit: APPS_SHOWN, offset: 0 });
  const appIds = apps.rows.map((app) => app.id);
  const since = new Date(Date.now() - 86_400_000);
  const [totals, disabled, hourly] = await Promise.all([
    deliveryTotalsByApp(context.db, appIds, since),
    listDisabledEndpoints(context.db, appIds, DISABLED_SHOWN),
    deliveryOutcomes(context.db, appIds, since, 'hour'),
  ]);
  const names = new Map(apps.rows.map((app) => [app.id, app.name]));
  return {
    apps: apps.rows.map((app) => ({ id: app.id, name: app.name, ...(totals.get(app.id) ?? { succeeded: 0, failed: 0 }) })),
    total: apps.total,
    disabled: disabled.map((e) => ({
      id: e.id,
      appId: e.app_id,
      appName: names.get(e.app_id) ?? e.app_id,
      url: e.url,
      subscriberId: e.subscriber_id,
      subscriberName: e.subscriber_name,
      reason: e.disabled_reason,
      at: e.disabled_at ? utcMinute(e.disabled_at) : null,
    })),
    hourly: hourly.map(bucketView),
  };
}

function successRate(succeeded: number, failed: number): string {
  const total = succeeded + failed;
  return total === 0 ? '—' : `${Math.round((succeeded / total) * 1000) / 10} %`;
}

// Remix requires the route component to be the module's default export.
export default function Dashboard() {
  const { apps, total, disabled, hourly } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Dashboard</h1>
      {apps.length === 0 ? (
        <section aria-labelledby="start">
          <h2 id="start">Start here</h2>
          <p>Your account has no apps yet. An app is the application of yours that sends webhooks. To send your first one:</p>
          <ol>
            <li>Create an app.</li>
            <li>Add the event types it sends, such as user.created.</li>
            <li>Add a subscriber and its endpoint URL.</li>
            <li>Send a test message and watch it in the logs.</li>
          </ol>
          <p>
            <Link to="/apps/new" className="button">
              Create an app
            </Link>
          </p>
        </section>
      ) : (
        <section aria-labelledby="apps">
          <div className="section-head">
            <h2 id="apps">Apps</h2>
            <Link to="/apps/new" className="button">
              Create an app
            </Link>
          </div>
          <div className="table-scroll">
            <table>
              <caption>Deliveries that ended in the last 24 hours</caption>
              <thead>
                <tr>
                  <th scope="col">App</th>
                  <th scope="col">Deliveries</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Success rate</th>
                </tr>
              </thead>
              <tbody>
                {apps.map((app) => (
                  <tr key={app.id}>
                    <th scope="row">
                      <Link to={`/apps/${app.id}`}>{app.name}</Link>
                    </th>
                    <td>{app.succeeded + app.failed}</td>
                    <td>{app.failed}</td>
                    <td>{successRate(app.succeeded, app.failed)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {total > apps.length ? <p>{`The newest ${apps.length} of ${total} apps are shown.`}</p> : null}
          <OutcomeChart title="Deliveries per hour, last 24 hours, all apps" buckets={hourly} unit="hour" />
          <h2 id="disabled">Disabled endpoints</h2>
          {disabled.length === 0 ? (
            <p>None: every endpoint is receiving.</p>
          ) : (
            <ul>
              {disabled.map((e) => (
                <li key={e.id}>
                  <Link to={`/apps/${e.appId}/subscribers/${e.subscriberId}`}>{e.url}</Link> of {e.subscriberName} ({e.appName})
                  {e.at ? `, disabled ${e.at}` : ''}
                  {e.reason ? `: ${e.reason}` : ''}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the dashboard" />;
}
