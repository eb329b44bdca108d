import type { ReactNode } from 'react';
import type { LoaderFunctionArgs } from '@remix-run/node';
import { Form, Link, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError, useRouteLoaderData } from '@remix-run/react';
import { optionalUser } from './auth.server';
import { ErrorPage } from './components/error-page';
import { CsrfField } from './components/csrf-field';
import { csrfToken } from './csrf.server';
import './styles.css';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await optionalUser(request, context);
  if (!user) return { user: null, csrf: null };
  // A signed-in session always has its nonce (set at sign-in), so this sets no cookie that could race
  // with the one a page's own loader sets for a new visitor.
  const { token } = await csrfToken(request, context);
  return { user: { email: user.email }, csrf: token };
}

export function Layout({ children }: { children: ReactNode }) {
  // Undefined when the root loader itself failed: the error page is shown signed out.
  const root = useRouteLoaderData<typeof loader>('root');
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <Link to="/" className="brand">
            openhooks
          </Link>
          {root?.user && root.csrf ? (
            <nav aria-label="Main">
              <ul>
                <li>
                  <Link to="/">Dashboard</Link>
                </li>
                <li>
                  <Link to="/settings/team">Team</Link>
                </li>
                <li>
                  <Link to="/settings/api-keys">API keys</Link>
                </li>
              </ul>
              <div className="account">
                <span className="account-email">{root.user.email}</span>
                <Form method="post" action="/logout">
                  <CsrfField token={root.csrf} />
                  <button type="submit">Log out</button>
                </Form>
              </div>
            </nav>
          ) : (
            <nav aria-label="Main">
              <ul>
                <li>
                  <Link to="/login">Log in</Link>
                </li>
                <li>
                  <Link to="/signup">Sign up</Link>
                </li>
              </ul>
            </nav>
          )}
        </header>
        <main id="main">{children}</main>
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
  return <ErrorPage error={useRouteError()} page="this page" />;
}
