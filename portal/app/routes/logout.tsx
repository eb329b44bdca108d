import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useLoaderData, useRouteError } from '@remix-run/react';
import { optionalUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { ErrorPage } from '../components/error-page';
import { csrfToken, requireCsrf } from '../csrf.server';
import { destroySession, getSession } from '../session.server';

export const meta: MetaFunction = () => [{ title: 'Log out · openhooks portal' }];

// Logging out changes state, so only a POST with a CSRF token does it; a GET (a typed URL) asks first.
export async function loader({ request, context }: LoaderFunctionArgs) {
  if (!(await optionalUser(request, context))) return redirect('/login');
  return { csrf: (await csrfToken(request, context)).token };
}

export async function action({ request, context }: ActionFunctionArgs) {
  await requireCsrf(request, context, await request.formData());
  const session = await getSession(request, context);
  return redirect('/login', { headers: { 'Set-Cookie': await destroySession(session, context) } });
}

// Remix requires the route component to be the module's default export.
export default function Logout() {
  const { csrf } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Log out</h1>
      <Form method="post">
        <CsrfField token={csrf} />
        <button type="submit">Log out</button>
      </Form>
    </>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the log out page" />;
}
