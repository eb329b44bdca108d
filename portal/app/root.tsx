import type { ReactNode } from 'react';
import type { LoaderFunctionArgs } from '@remix-run/node';
import { Form, Link, Links, Meta, Outlet, Scripts, ScrollRestoration, useLocation, useRouteError, useRouteLoaderData, type ShouldRevalidateFunction } from '@remix-run/react';
import { optionalUser } from './auth.server';
import { ErrorPage } from './components/error-page';
import { CsrfField } from './components/csrf-field';
import { csrfToken } from './csrf.server';
import { optionalSubscriber, subscriberCsrfToken } from './subscriber-session.server';
import './styles.css';

/** The subscriber portal's pages: branded with the subscriber's app, never the provider's navigation. */
const inSubscriberPortal = (pathname: string) => pathname === '/portal' || pathname.startsWith('/portal/');

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (inSubscriberPortal(new URL(request.url).pathname)) {
    const signedIn = await optionalSubscriber(request, context);
    // Its nonce was set at sign-in, so reading it sets no cookie.
    const subscriber = signedIn ? { name: signedIn.subscriber.name, appName: signedIn.app.name } : null;
    return { area: 'subscriber' as const, user: null, subscriber, csrf: signedIn ? await subscriberCsrfToken(request, context) : null };
  }
  const user = await optionalUser(request, context);
  if (!user) return { area: 'provider' as const, user: null, subscriber: null, csrf: null };
  // A signed-in session always has its nonce (set at sign-in), so this sets no cookie that could race
  // with the one a page's own loader sets for a new visitor.
  const { token } = await csrfToken(request, context);
  return { area: 'provider' as const, user: { email: user.email }, subscriber: null, csrf: token };
}

// Moving between the provider's pages and the subscriber portal changes the header: read it again.
export const shouldRevalidate: ShouldRevalidateFunction = ({ currentUrl, nextUrl, defaultShouldRevalidate }) =>
  inSubscriberPortal(currentUrl.pathname) !== inSubscriberPortal(nextUrl.pathname) || defaultShouldRevalidate;

/** The subscriber portal's header: the app's name, its pages, and log out. */
function SubscriberHeader({ subscriber, csrf }: { subscriber: { name: string; appName: string } | null; csrf: string | null }) {
  return (
    <header className="site-header">
      {subscriber && csrf ? (
        <>
          <Link to="/portal" className="brand">
            {subscriber.appName} webhooks
          </Link>
          <nav aria-label="Main">
            <ul>
              <li>
                <Link to="/portal">Endpoints</Link>
              </li>
              <li>
                <Link to="/portal/logs">Logs</Link>
              </li>
            </ul>
            <div className="account">
              <span className="account-email">{subscriber.name}</span>
              <Form method="post" action="/portal/logout">
                <CsrfField token={csrf} />
                <button type="submit">Log out</button>
              </Form>
            </div>
          </nav>
        </>
      ) : (
        <span className="brand">Webhook portal</span>
      )}
    </header>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  // Undefined when the root loader itself failed: the error page is shown signed out.
  const root = useRouteLoaderData<typeof loader>('root');
  const { pathname } = useLocation();
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
        {root?.area === 'subscriber' || (!root && inSubscriberPortal(pathname)) ? (
          <SubscriberHeader subscriber={root?.subscriber ?? null} csrf={root?.csrf ?? null} />
        ) : (
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
        )}
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
