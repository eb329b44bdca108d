import type { MetaFunction } from '@remix-run/node';
import { useLoaderData, useRouteError } from '@remix-run/react';
import { errorSummary } from '../error-summary';
import { getTemporalUiUrl } from '../env.server';

export const meta: MetaFunction = () => [{ title: 'openhooks portal' }];

export function loader() {
  return { apiUrl: '/api/v1', temporalUiUrl: getTemporalUiUrl() };
}

// Remix requires the route component to be the module's default export.
export default function Index() {
  const { apiUrl, temporalUiUrl } = useLoaderData<typeof loader>();

  return (
    <>
      <h1>openhooks portal</h1>
      <p>The provider portal is coming. Until then, use the API directly and watch deliveries in Temporal.</p>
      <ul>
        <li>
          API: <a href={apiUrl}>{apiUrl}</a>
        </li>
        <li>
          Temporal Web UI: <a href={temporalUiUrl}>{temporalUiUrl}</a>
        </li>
      </ul>
    </>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const summary = errorSummary(error);

  return (
    <>
      <h1>The portal home page failed to load</h1>
      <p>Reload to try again. If it keeps failing, the server log has the full error.</p>
      <pre>{summary}</pre>
    </>
  );
}
