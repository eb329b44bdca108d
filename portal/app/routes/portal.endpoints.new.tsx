import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { eventTypesOf } from '../../../db/event-types.ts';
import { CsrfField } from '../components/csrf-field';
import { EndpointFields } from '../components/endpoint-fields';
import { FormError } from '../components/form-error';
import { createEndpointFromForm } from '../endpoints.server';
import { requireSubscriber, requireSubscriberForm, subscriberCsrfToken } from '../subscriber-session.server';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Add an endpoint · ${data?.app.name ?? 'Webhook'} portal` }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { app } = await requireSubscriber(request, context);
  return {
    csrf: await subscriberCsrfToken(request, context),
    app: { name: app.name },
    eventTypes: (await eventTypesOf(context.db, app.id)).map((et) => et.name),
  };
}

/** Adds an endpoint with the API's rules (URL scheme and address, known event types, the per-subscriber limit). */
export async function action({ request, context }: ActionFunctionArgs) {
  const { form, app, subscriber } = await requireSubscriberForm(request, context);
  const created = await createEndpointFromForm(context, app, subscriber, form);
  if (!created.ok) return data({ errors: created.errors, values: created.values }, { status: created.status });
  return redirect(`/portal/endpoints/${created.endpoint.id}?created=1`);
}

// Remix requires the route component to be the module's default export.
export default function NewEndpoint() {
  const { csrf, app, eventTypes } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <>
      <p>
        <Link to="/portal">Your endpoints</Link>
      </p>
      <h1>Add an endpoint</h1>
      <p>{app.name} will POST each message you choose to this URL, signed with the endpoint’s secret (shown once the endpoint is added).</p>
      <Form method="post">
        <CsrfField token={csrf} />
        <FormError message={result?.errors.form} />
        <EndpointFields result={result} eventTypes={eventTypes} />
        <p>
          <button type="submit">Add endpoint</button>
        </p>
      </Form>
    </>
  );
}
