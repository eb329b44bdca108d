import { redirect, type ActionFunctionArgs } from '@remix-run/node';
import { requireCsrf } from '../csrf.server';
import { endSubscriberSession, subscriberCsrfSessions } from '../subscriber-session.server';

// Logging out changes state, so only a POST with the session's CSRF token does it.
export function loader() {
  return redirect('/portal');
}

export async function action({ request, context }: ActionFunctionArgs) {
  await requireCsrf(request, context, await request.formData(), subscriberCsrfSessions);
  return redirect('/portal/login?ended=logged_out', { headers: { 'Set-Cookie': await endSubscriberSession(request, context) } });
}
