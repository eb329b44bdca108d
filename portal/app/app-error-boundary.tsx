import { useRouteError } from '@remix-run/react';
import { ErrorPage } from './components/error-page';

/** An app page's ErrorBoundary: `page` names it, such as "app settings", in the portal's error page. */
export function AppErrorBoundary({ page }: { page: string }) {
  return <ErrorPage error={useRouteError()} page={`the ${page}`} />;
}
