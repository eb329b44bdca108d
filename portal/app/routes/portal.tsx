import { Outlet, useRouteError } from '@remix-run/react';
import { ErrorPage } from '../components/error-page';

// The subscriber portal's pages (/portal/…): root.tsx gives them the app-branded header; this layout
// gives them error pages that point back to /portal rather than to the provider's dashboard.

// Remix requires the route component to be the module's default export.
export default function SubscriberPortal() {
  return <Outlet />;
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="this page" home={{ to: '/portal', label: 'your endpoints' }} />;
}
