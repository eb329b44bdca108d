import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useRouteError } from '@remix-run/react';
import { listApps } from '../../../db/apps.ts';
import { requireUser } from '../auth.server';
import { ErrorPage } from '../components/error-page';

export const meta: MetaFunction = () => [{ title: 'Dashboard · openhooks portal' }];

const APPS_SHOWN = 200;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const apps = await listApps(context.db, user.accountId, { limit: APPS_SHOWN, offset: 0 });
  return { apps: apps.rows.map((app) => ({ id: app.id, name: app.name })), total: apps.total };
}

// Remix requires the route component to be the module's default export.
export default function Dashboard() {
  const { apps, total } = useLoaderData<typeof loader>();
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
          <ul className="app-list">
            {apps.map((app) => (
              <li key={app.id}>
                <Link to={`/apps/${app.id}`}>{app.name}</Link>
              </li>
            ))}
          </ul>
          {total > apps.length ? <p>{`The newest ${apps.length} of ${total} apps are shown.`}</p> : null}
        </section>
      )}
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the dashboard" />;
}
