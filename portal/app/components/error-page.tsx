import { Link, isRouteErrorResponse } from '@remix-run/react';
import { errorSummary } from '../error-summary';

const HEADINGS: Record<number, string> = {
  403: 'Not allowed',
  404: 'Page not found',
  429: 'Too many tries',
};

/**
 * What an ErrorBoundary shows: the portal's own refusals (403, 404, 429) with their message, anything
 * else as a failure to show `page`, with what to do next.
 */
export function ErrorPage({ error, page, home = { to: '/', label: 'the portal home page' } }: { error: unknown; page: string; home?: { to: string; label: string } }) {
  if (isRouteErrorResponse(error) && error.status === 404) {
    return (
      <>
        <title>Page not found · openhooks portal</title>
        <h1>Page not found</h1>
        <p>
          There is nothing here, or it belongs to another account. Check the URL, or go to <Link to={home.to}>{home.label}</Link>.
        </p>
      </>
    );
  }
  if (isRouteErrorResponse(error) && error.status < 500 && typeof error.data === 'string' && error.data) {
    const heading = HEADINGS[error.status] ?? 'This request was refused';
    return (
      <>
        <title>{`${heading} · openhooks portal`}</title>
        <h1>{heading}</h1>
        <p role="alert">{error.data}</p>
        <p>
          <Link to={home.to}>Back to {home.label}</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <title>Error · openhooks portal</title>
      <h1>Something went wrong</h1>
      <p>The portal could not show {page}. Reload to try again; if it keeps failing, the server log has the full error.</p>
      <pre>{errorSummary(error)}</pre>
      <p>
        <Link to="/">Back to the portal home page</Link>
      </p>
    </>
  );
}
