import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { ApiError } from '../../../api/errors.ts';
import { addSubscriber, SubscriptionIn } from '../../../api/subscribers.ts';
import { searchSubscribers } from '../../../db/subscribers.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors, requireAccountApp, requireAppForm } from '../apps.server';
import { requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { Field } from '../components/field';
import { FormError } from '../components/form-error';
import { csrfToken } from '../csrf.server';
import { formText, invalidForm } from '../forms.server';

const PER_PAGE = 50;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Subscribers · ${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const { token, headers } = await csrfToken(request, context);
  const query = new URL(request.url).searchParams;
  const q = (query.get('q') ?? '').trim().slice(0, 200);
  const page = Math.max(1, Math.floor(Number(query.get('page'))) || 1);
  const list = await searchSubscribers(context.db, app.id, q, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name },
      q,
      subscribers: list.rows.map(({ id, name, email, endpoints }) => ({ id, name, email, endpoints })),
      total: list.total,
      page,
      pages: Math.max(1, Math.ceil(list.total / PER_PAGE)),
    },
    { headers },
  );
}

/** Creates a subscriber with the API's schema and limit, then opens its page. */
export async function action({ request, context, params }: ActionFunctionArgs) {
  const { form, app } = await requireAppForm(request, context, params.app_id);
  const values = { name: formText(form, 'name'), email: formText(form, 'email') };
  const parsed = SubscriptionIn.safeParse({ name: values.name, email: values.email || null });
  if (!parsed.success) return invalidForm(fieldErrors(parsed.error), values);
  try {
    const subscriber = await context.db.transaction().execute((trx) => addSubscriber(trx, app.id, parsed.data, context.config.maxSubscribersPerApp));
    return redirect(`/apps/${app.id}/subscribers/${subscriber.id}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return invalidForm({ form: error.message }, values, 422);
    throw error;
  }
}

/** The list's address for a page, keeping the search. */
function pageLink(q: string, page: number): string {
  const search = new URLSearchParams({ ...(q ? { q } : {}), ...(page > 1 ? { page: String(page) } : {}) }).toString();
  return search ? `?${search}` : '.';
}

// Remix requires the route component to be the module's default export.
export default function Subscribers() {
  const { csrf, app, q, subscribers, total, page, pages } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Partial<Record<string, string>> = result?.errors ?? {};

  return (
    <>
      <h1>Subscribers of {app.name}</h1>
      <p>
        <Link to={`/apps/${app.id}`}>Back to {app.name}</Link>
      </p>
      <p>A subscriber is a system that receives your webhooks. Each has endpoints (URLs) that messages are delivered to.</p>

      <h2>Add a subscriber</h2>
      <Form method="post">
        <CsrfField token={csrf} />
        <FormError message={errors.form} />
        <Field label="Name" name="name" defaultValue={result?.values.name} error={errors.name} required />
        <Field label="Contact email" name="email" type="email" defaultValue={result?.values.email} error={errors.email} hint="Optional: told when one of its endpoints is disabled." />
        <p>
          <button type="submit">Add subscriber</button>
        </p>
      </Form>

      <h2>Subscribers</h2>
      <Form method="get" role="search">
        <Field label="Search by name or email" name="q" type="search" defaultValue={q} />
        <p>
          <button type="submit">Search</button> {q ? <Link to=".">Show all</Link> : null}
        </p>
      </Form>
      {subscribers.length === 0 ? (
        <p>{q ? `No subscriber’s name or email contains “${q}”.` : 'This app has no subscribers yet. Add the first one above.'}</p>
      ) : (
        <div style={{ overflowX: 'auto' }}>
          <table>
            <caption>{q ? `${total} matching “${q}”` : `${total} in all`}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Contact email</th>
                <th scope="col">Endpoints</th>
              </tr>
            </thead>
            <tbody>
              {subscribers.map((subscriber) => (
                <tr key={subscriber.id}>
                  <th scope="row" style={{ overflowWrap: 'anywhere' }}>
                    <Link to={`/apps/${app.id}/subscribers/${subscriber.id}`}>{subscriber.name}</Link>
                  </th>
                  <td style={{ overflowWrap: 'anywhere' }}>{subscriber.email ?? 'none'}</td>
                  <td>{subscriber.endpoints}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pages > 1 ? (
        <nav aria-label="Pages">
          {page > 1 ? <Link to={pageLink(q, page - 1)}>Previous page</Link> : null} Page {page} of {pages}{' '}
          {page < pages ? <Link to={pageLink(q, page + 1)}>Next page</Link> : null}
        </nav>
      ) : null}
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="subscribers page" />;
}
