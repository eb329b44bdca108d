import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { findMessageDeliveries } from '../../../db/deliveries.ts';
import { requestResend } from '../../../db/delivery-starts.ts';
import { deliveryWorkflowId } from '../../../workflows/delivery-run.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { requireAccountApp } from '../apps.server';
import { requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { DeliverySection, MessageSummary } from '../components/message-view';
import { csrfToken, csrfCheckedForm } from '../csrf.server';
import { formText } from '../forms.server';
import { messageView } from '../message.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Message ${data?.message.id ?? ''} · openhooks portal` }];

async function requireMessage(args: LoaderFunctionArgs | ActionFunctionArgs) {
  const { request, context, params } = args;
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const view = await messageView(context.db, app.id, params.message_id);
   
  if (!view) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  return { user, app, view };
}

export async function loader(args: LoaderFunctionArgs) {
  const [{ app, view }, { token, headers }] = await Promise.all([requireMessage(args), csrfToken(args.request, args.context)]);
  const { config } = args.context;
  const workflowUrl = (deliveryId: string) =>
    `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(deliveryWorkflowId(deliveryId))}`;
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name },
      message: view.message,
      deliveries: view.deliveries.map((d) => ({ ...d, workflowUrl: workflowUrl(d.id) })),
    },
    { headers },
  );
}

/** Resend one delivery of this message now: the same transaction and start as the API's resend. */
export async function action(args: ActionFunctionArgs) {
  const form = await csrfCheckedForm(args.request, args.context);
  const { view } = await requireMessage(args);
  const deliveryId = formText(form, 'delivery_id');
  const { db, starts } = args.context;
  const delivery = (await findMessageDeliveries(db, view.message.id)).find((d) => d.id === deliveryId);
   
  if (!delivery) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  const resend = await db.transaction().execute((trx) => requestResend(trx, delivery.id));
  if (resend.kind === 'endpoint_inactive') {
    return data({ deliveryId, error: 'The endpoint is disabled. Re-enable it on its subscriber’s page, then resend.' }, { status: 409 });
  }
  if (resend.kind === 'endpoint_deleted') return data({ deliveryId, error: 'The endpoint was deleted: this delivery cannot be resent.' }, { status: 409 });
  if (resend.kind === 'payload_purged') return data({ deliveryId, error: 'The payload was removed by the data retention policy: this delivery cannot be resent.' }, { status: 409 });
  starts.startResend(resend.start);
  return { deliveryId, error: null };
}

export default function MessagePage() {
  const { csrf, app, message, deliveries } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  return (
    <>
      <p>
        <Link to={`/apps/${app.id}`}>{app.name}</Link> › <Link to={`/apps/${app.id}/logs`}>Logs</Link>
      </p>
      <MessageSummary message={message} />

      <h2>Deliveries</h2>
      {deliveries.length === 0 ? <p>No endpoint was subscribed to this event type and version when the message was accepted.</p> : null}
      {deliveries.map((d) => (
        <DeliverySection
          key={d.id}
          delivery={d}
          links={
            <p>
              <a href={d.workflowUrl} target="_blank" rel="noreferrer">
                Open in Temporal
              </a>
            </p>
          }
        >
          {message.payloadPurgedAt ? null : (
            <Form method="post">
              <CsrfField token={csrf} />
              <input type="hidden" name="delivery_id" value={d.id} />
              <button type="submit">Resend</button>
              {outcome?.deliveryId === d.id ? (
                <p role="status">{outcome.error ?? 'Resent: a new run of this delivery has started. Reload to follow its attempts.'}</p>
              ) : null}
            </Form>
          )}
        </DeliverySection>
      ))}
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="message" />;
}
