import { Link, isRouteErrorResponse, useRouteError } from '@remix-run/react';
import { errorSummary } from './error-summary';

/**
 * What an app page shows when it cannot: a missing (or another account's) app, a forbidden
 * action, or a failure, each with what to do next. `page` names the page, such as "app settings".
 */
export function AppErrorBoundary({ page }: { page: string }) {
  const error = useRouteError();

  if (isRouteErrorResponse(error) && error.status === 404) {
    return (
      <>
        <title>App not found · openhooks portal</title>
        <h1>App not found</h1>
        <p>
          This app does not exist, or it belongs to another account. Check the address, or pick an app from{' '}
          <Link to="/">your dashboard</Link>.
        </p>
      </>
    );
  }

  if (isRouteErrorResponse(error) && error.status === 403) {
    return (
      <>
        <title>Not allowed · openhooks portal</title>
        <h1>You cannot do that</h1>
        <p>Your role in this account does not allow it. Ask an owner or an admin of the account to do it, or to change your role.</p>
        <p>
          <Link to=".">Back to the {page}</Link>
        </p>
      </>
    );
  }

  return (
    <>
      <title>Error · openhooks portal</title>
      <h1>The {page} could not be shown</h1>
      <p>Reload to try again. If it keeps failing, the server log has the full error.</p>
      <pre>{errorSummary(error)}</pre>
      <p>
        <Link to="/">Back to the dashboard</Link>
      </p>
    </>
  );
}
