import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { useActionData, useLoaderData, useRouteError } from '@remix-run/react';
import { useId, useState } from 'react';
import { ApiKeyIn } from '../../../api/api-keys.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../../../db/api-keys.ts';
import { newApiKey } from '../../../lib/secrets.ts';
import { fieldErrors } from '../apps.server';
import { requireManagerForm, requireUser } from '../auth.server';
import { ConfirmAction, IntentForm } from '../components/intent-form';
import { ErrorPage } from '../components/error-page';
import { Field } from '../components/field';
import { csrfToken } from '../csrf.server';
import { formText } from '../forms.server';
import { Pager } from '../pager';
import { utcMinute } from '../utc-minute';

const PER_PAGE = 50;

export const meta: MetaFunction = () => [{ title: 'API keys · openhooks portal' }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const { token, headers } = await csrfToken(request, context);
  const page = Math.max(1, Math.floor(Number(new URL(request.url).searchParams.get('page'))) || 1);
  const list = await listApiKeys(context.db, user.accountId, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
  return data(
    {
      csrf: token,
      apiKeys: list.rows.map((row) => ({
        id: row.id,
        name: row.name,
        prefix: `ohk_${row.prefix}`,
        createdAt: utcMinute(row.created_at),
        lastUsedAt: row.last_used_at && utcMinute(row.last_used_at),
        revokedAt: row.revoked_at && utcMinute(row.revoked_at),
      })),
      page,
      pages: Math.max(1, Math.ceil(list.total / PER_PAGE)),
      canManage: user.role !== 'member',
    },
    { headers },
  );
}

interface ActionResult {
  intent: 'create' | 'revoke';
  errors: Record<string, string>;
  values: Record<string, string>;
  /** The new key, in this answer only: only its hash is stored. */
  created?: { name: string; key: string };
  done?: string;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { form, user } = await requireManagerForm(request, context);
  const intent = formText(form, 'intent');

  if (intent === 'create') {
    const values = { name: formText(form, 'name') };
    const parsed = ApiKeyIn.safeParse(values);
    if (!parsed.success) return data<ActionResult>({ intent, errors: fieldErrors(parsed.error), values }, { status: 400 });
    const key = newApiKey();
    await createApiKey(context.db, user.accountId, parsed.data.name, key);
    // The page holds a secret: no cache may keep it.
    return data<ActionResult>({ intent, errors: {}, values: {}, created: { name: parsed.data.name, key: key.key } }, { headers: { 'Cache-Control': 'no-store' } });
  }

  if (intent === 'revoke') {
    const revoked = await revokeApiKey(context.db, user.accountId, formText(form, 'id'));
    if (!revoked) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
    context.trustedKeys.forget(revoked.id);
    return data<ActionResult>({ intent, errors: {}, values: {}, done: `API key ${revoked.name} revoked: requests with it are refused from now on (by other server processes within 2 seconds).` });
  }

  throw new Response('Unknown action', { status: 400, statusText: 'Bad Request' });
}

// Remix requires the route component to be the module's default export.
export default function ApiKeys() {
  const { csrf, apiKeys, page, pages, canManage } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const creating = result?.intent === 'create' ? result : undefined;

  return (
    <>
      <h1>API keys</h1>
      <p>
        Your backend sends messages and manages apps with an API key: <code>Authorization: Bearer ohk_…</code>. Each key is shown once, when it is created; only
        a hash of it is stored.
      </p>
      {result?.done ? <p role="status">{result.done}</p> : null}
      {creating?.created ? <NewKey name={creating.created.name} apiKey={creating.created.key} /> : null}

      {canManage ? (
        <>
          <h2>Create an API key</h2>
          <IntentForm csrf={csrf} intent="create" className="stack">
            <Field label="Name" name="name" required defaultValue={creating?.created ? '' : creating?.values.name} error={creating?.errors.name} hint="Where the key is used, such as production backend." />
            <button type="submit">Create API key</button>
          </IntentForm>
        </>
      ) : (
        <p>Only owners and admins of your account can create or revoke API keys.</p>
      )}

      <h2>Keys</h2>
      {apiKeys.length === 0 ? <p>This account has no API keys yet.</p> : null}
      <ul className="app-list">
        {apiKeys.map((apiKey) => (
          <li key={apiKey.id}>
            <h3 style={{ overflowWrap: 'anywhere' }}>{apiKey.name}</h3>
            <p>
              <code>{apiKey.prefix}_…</code> · created {apiKey.createdAt} · {apiKey.lastUsedAt ? `last used ${apiKey.lastUsedAt}` : 'never used'}
              {apiKey.revokedAt ? <strong> · revoked {apiKey.revokedAt}</strong> : null}
            </p>
            {canManage && !apiKey.revokedAt ? (
              <ConfirmAction
                csrf={csrf}
                intent="revoke"
                id={apiKey.id}
                verb="Revoke"
                what={apiKey.name}
                explanation="Requests with this key are refused from then on. Revoking cannot be undone."
              />
            ) : null}
          </li>
        ))}
      </ul>
      <Pager page={page} pages={pages} />
    </>
  );
}

/** The new key, once: in a read-only field anyone can select, and a copy button once scripts run. */
function NewKey({ name, apiKey }: { name: string; apiKey: string }) {
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'failed' | undefined>();
  const copy = () => {
    navigator.clipboard.writeText(apiKey).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>API key {name} created</h2>
      <p role="status">Copy it now: it is not shown again. If it is lost, create another and revoke this one.</p>
      <div className="field">
        <label htmlFor={id}>New API key</label>
        <input id={id} readOnly value={apiKey} onFocus={(event) => event.currentTarget.select()} spellCheck={false} style={{ fontFamily: 'monospace' }} />
      </div>
      <p>
        <button type="button" onClick={copy}>
          Copy API key
        </button>{' '}
        <span aria-live="polite">{copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Copying failed: select the key above and copy it.' : ''}</span>
      </p>
    </section>
  );
}

export function ErrorBoundary() {
  return <ErrorPage error={useRouteError()} page="the API keys page" />;
}
