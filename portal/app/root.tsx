import type { ReactNode } from 'react';
import {
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
  useRouteError,
} from '@remix-run/react';
import { errorSummary } from './error-summary';
import './styles.css';

export function Layout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <header>
          <Link to="/">openhooks</Link>
        </header>
        <main>{children}</main>
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

// Remix requires the route component to be the module's default export.
export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();

  if (isRouteErrorResponse(error) && error.status === 404) {
    return (
      <>
        <title>Page not found · openhooks portal</title>
        <h1>Page not found</h1>
        <p>
          There is no portal page at this address. Check the URL, or go to the{' '}
          <Link to="/">portal home page</Link>.
        </p>
      </>
    );
  }

  const summary = errorSummary(error);

  return (
    <>
      <title>Error · openhooks portal</title>
      <h1>Something went wrong</h1>
      <p>The portal could not show this page. Reload to try again; if it keeps failing, the server log has the full error.</p>
      <pre>{summary}</pre>
      <p>
        <Link to="/">Back to the portal home page</Link>
      </p>
    </>
  );
}
