import { isRouteErrorResponse } from '@remix-run/react';

/** One line saying what went wrong, for an ErrorBoundary. */
export function errorSummary(error: unknown): string {
  if (isRouteErrorResponse(error)) return `${error.status} ${error.statusText}`.trim();
  return error instanceof Error ? error.message : 'Unknown error';
}
