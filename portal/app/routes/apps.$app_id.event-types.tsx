import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useActionData, useLoaderData } from '@remix-run/react';
import { WebhookEventIn, WebhookEventPatch } from '../../../api/event-types.ts';
import { countEndpointsNaming } from '../../../db/endpoints.ts';
import { createEventType, deleteEventType, findEventType, listEventTypes, updateEventType } from '../../../db/event-types.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors, requireAccountApp, requireAppForm } from '../apps.server';
import { requireRole, requireUser } from '../auth.server';
import { ConfirmAction, IntentForm } from '../components/intent-form';
import { Field } from '../components/field';
import { csrfToken } from '../csrf.server';
import { formText } from '../forms.server';
import { Pager } from '../pager';

const PER_PAGE = 50;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Event types · ${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const { token, headers } = await csrfToken(request, context);
  const page = Math.max(1, Math.floor(Number(new URL(request.url).searchParams.get('page'))) || 1);
  const list = await listEventTypes(context.db, app.id, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name },
      eventTypes: list.rows.map(({ id, name, description }) => ({ id, name, description })),
      page,
      pages: Math.max(1, Math.ceil(list.total / PER_PAGE)),
      canDelete: user.role !== 'member',
    },
    { headers },
  );
}

/** What the page shows after an action: errors beside the form that was sent, keyed by field. */
interface ActionResult {
  intent: 'create' | 'describe' | 'delete';
  /** The event type a describe or delete was for. */
  id?: string;
  errors: Record<string, string>;
  values: Record<string, string>;
  done?: string;
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { form, user, app } = await requireAppForm(request, context, params.app_id);
  const intent = formText(form, 'intent');

  if (intent === 'create') {
    const values = { event_type: formText(form, 'event_type'), description: formText(form, 'description') };
    const parsed = WebhookEventIn.safeParse({ event_type: values.event_type, description: values.description.trim() || null });
    if (!parsed.success) return data<ActionResult>({ intent, errors: fieldErrors(parsed.error), values }, { status: 400 });
    const created = await createEventType(context.db, app.id, { name: parsed.data.event_type, description: parsed.data.description ?? null });
    if (!created) return data<ActionResult>({ intent, errors: { event_type: `${parsed.data.event_type} already exists in this app` }, values }, { status: 409 });
    return data<ActionResult>({ intent, errors: {}, values: {}, done: `Event type ${created.name} created.` });
  }

  const eventType = await findEventType(context.db, app.id, formText(form, 'id'));
  if (!eventType) throw new Response('Not found', { status: 404, statusText: 'Not Found' });

  if (intent === 'describe') {
    const values = { description: formText(form, 'description') };
    const parsed = WebhookEventPatch.safeParse({ description: values.description.trim() || null });
    if (!parsed.success) return data<ActionResult>({ intent, id: eventType.id, errors: fieldErrors(parsed.error), values }, { status: 400 });
    await updateEventType(context.db, eventType.id, { description: parsed.data.description });
    return data<ActionResult>({ intent, id: eventType.id, errors: {}, values: {}, done: `Description of ${eventType.name} saved.` });
  }

  if (intent === 'delete') {
    requireRole(user, ['owner', 'admin']);
    // The API's rule: an event type that endpoints name in their enabled events stays, so no subscription silently stops.
    const users = await countEndpointsNaming(context.db, app.id, eventType.name);
    if (users > 0) {
      const message = `${eventType.name} cannot be deleted: ${users === 1 ? '1 endpoint subscribes' : `${users} endpoints subscribe`} to it. Remove it from their enabled events on the subscribers’ pages first, then delete it.`;
      return data<ActionResult>({ intent, id: eventType.id, errors: { delete: message }, values: {} }, { status: 409 });
    }
    await deleteEventType(context.db, eventType.id);
    return data<ActionResult>({ intent, id: eventType.id, errors: {}, values: {}, done: `Event type ${eventType.name} deleted.` });
  }

  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

// Remix requires the route component to be the module's default export.
export default function EventTypes() {
  const { csrf, app, eventTypes, page, pages, canDelete } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const created = result?.intent === 'create' ? result : undefined;
  const about = (id: string) => (result?.id === id ? result : undefined);

  return (
    <>
      <h1>Event types of {app.name}</h1>
      <p>
        <Link to={`/apps/${app.id}`}>Back to {app.name}</Link>
      </p>
      <p>Event types name what your app sends, such as user.created. Endpoints subscribe to them by name.</p>
      {result?.done ? <p role="status">{result.done}</p> : null}

      <h2>Add an event type</h2>
      <IntentForm csrf={csrf} intent="create">
        <Field
          label="Event type"
          name="event_type"
          defaultValue={created?.done ? '' : created?.values.event_type}
          error={created?.errors.event_type}
          hint="Letters, digits, dots, dashes, colons or underscores, such as user.created."
          required
        />
        <Field label="Description" name="description" defaultValue={created?.done ? '' : created?.values.description} error={created?.errors.description} hint="Optional: when your app sends it." />
        <p>
          <button type="submit">Add event type</button>
        </p>
      </IntentForm>

      <h2>Event types</h2>
      {eventTypes.length === 0 ? <p>This app has no event types yet. Add the first one above.</p> : null}
      <ul style={{ listStyle: 'none', padding: 0 }}>
        {eventTypes.map((eventType) => {
          const mine = about(eventType.id);
          return (
            <li key={eventType.id} style={{ borderTop: '1px solid var(--line)', padding: '0.5rem 0' }}>
              <h3 style={{ overflowWrap: 'anywhere' }}>{eventType.name}</h3>
              <p>{eventType.description ?? 'No description.'}</p>
              <IntentForm csrf={csrf} intent="describe" id={eventType.id}>
                <Field
                  label={`Description of ${eventType.name}`}
                  name="description"
                  defaultValue={mine?.intent === 'describe' && !mine.done ? mine.values.description : (eventType.description ?? '')}
                  error={mine?.intent === 'describe' ? mine.errors.description : undefined}
                />
                <p>
                  <button type="submit">Save description</button>
                </p>
              </IntentForm>
              {canDelete ? (
                <ConfirmAction
                  csrf={csrf}
                  intent="delete"
                  id={eventType.id}
                  verb="Delete"
                  what={eventType.name}
                  explanation="Messages of this type are refused once it is gone. Deleting cannot be undone."
                  error={mine?.errors.delete}
                  open={mine?.intent === 'delete' && !mine.done}
                />
              ) : null}
            </li>
          );
        })}
      </ul>
      <Pager page={page} pages={pages} />
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="event types page" />;
}
