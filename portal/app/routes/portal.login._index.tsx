import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';

export const meta: MetaFunction = () => [{ title: 'Open the webhook portal' }];

const ENDED: Record<string, string> = {
  expired: 'Your session ended: the portal link that opened it has expired.',
  revoked: 'Your session ended: your portal links were revoked.',
  logged_out: 'You logged out of the webhook portal.',
};

/** Where a visitor without a subscriber session lands: how to get in, and why the last session ended. */
export function loader({ request }: LoaderFunctionArgs) {
  const ended = new URL(request.url).searchParams.get('ended') ?? '';
  return { ended: ENDED[ended] ?? null };
}

// Remix requires the route component to be the module's default export.
export default function PortalSignedOut() {
  const { ended } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Open the webhook portal</h1>
      {ended ? <p role="status">{ended}</p> : null}
      <p>
        This portal shows your webhook endpoints and what was delivered to them. It opens with a link that the service sending you webhooks (your provider) gives you, by email or in
        its own settings; each link works for a limited time.
      </p>
      <p>Ask your provider for a new link, then open it in this browser.</p>
    </>
  );
}
