import { PassThrough } from 'node:stream';
import { createReadableStreamFromReadable, type EntryContext, type HandleErrorFunction } from '@remix-run/node';
import { isRouteErrorResponse, RemixServer } from '@remix-run/react';
import { renderToPipeableStream } from 'react-dom/server';
import { portalLog } from './log.server';

/** How long a render may take before React gives up on what is still pending. */
const ABORT_DELAY_MS = 5_000;

/**
 * Renders each page whole before sending it: the portal defers no data, so streaming the shell
 * first would gain nothing, and bots and browsers get the same answer.
 */
export default function handleRequest(request: Request, status: number, headers: Headers, remixContext: EntryContext): Promise<Response> {
  return new Promise((resolve, reject) => {
    const { pipe, abort } = renderToPipeableStream(<RemixServer context={remixContext} url={request.url} abortDelay={ABORT_DELAY_MS} />, {
      onAllReady() {
        clearTimeout(timer);
        const body = new PassThrough();
        headers.set('Content-Type', 'text/html');
        resolve(new Response(createReadableStreamFromReadable(body), { headers, status }));
        pipe(body);
      },
      onShellError(error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
      onError() {
        // The shell's own errors reject above and reach handleError; this marks the answer failed.
        status = 500;
      },
    });
    // React renders after this returns (setImmediate), so the callbacks above always find the timer.
    const timer = setTimeout(abort, ABORT_DELAY_MS + 1_000);
  });
}

/**
 * Errors of loaders, actions and rendering, as JSON log lines with the request id (Remix would
 * print them with console.error). A URL no route matches is a 404 answer, not an error.
 */
export const handleError: HandleErrorFunction = (error, { request, context }) => {
  if (request.signal.aborted) return;
  const path = new URL(request.url).pathname;
  if (isRouteErrorResponse(error) && error.status < 500) portalLog(context).debug('portal request refused', { path, status: error.status });
  else portalLog(context).error('portal request failed', { path, error: isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : error });
};
