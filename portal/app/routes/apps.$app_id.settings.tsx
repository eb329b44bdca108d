import { useState } from 'react';
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { RETRY_AFTER_CAP_MS } from '../../../activities/judge.ts';
import { AppPatch } from '../../../api/apps.ts';
import { updateApp } from '../../../db/apps.ts';
import { formatDuration, parseDuration } from '../../../lib/duration.ts';
import { AppErrorBoundary } from '../app-error-boundary';
import { fieldErrors, requireAccountApp, requireAppForm } from '../apps.server';
import { requireUser } from '../auth.server';
import { CsrfField } from '../components/csrf-field';
import { Field } from '../components/field';
import { csrfToken } from '../csrf.server';
import { formText } from '../forms.server';
import { formatSpan, retryPreview, type RetrySchedule } from '../retry-preview';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `Settings · ${data?.app.name ?? 'App'} · openhooks portal` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, params.app_id);
  const { token, headers } = await csrfToken(request, context);
  return data(
    {
      csrf: token,
      app: { id: app.id, name: app.name, retry_initial_interval_ms: app.retry_initial_interval_ms, retry_backoff_coefficient: app.retry_backoff_coefficient },
      defaults: context.config.retry,
      retryAfterCapMs: RETRY_AFTER_CAP_MS,
    },
    { headers },
  );
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { form, app } = await requireAppForm(request, context, params.app_id);
  const values = { name: formText(form, 'name'), retry_initial_interval: formText(form, 'retry_initial_interval'), retry_backoff_coefficient: formText(form, 'retry_backoff_coefficient') };

  // The form takes a duration and a decimal as text; the API's schema then checks them, with its bounds.
  const errors: Record<string, string> = {};
  const interval = readInterval(values.retry_initial_interval);
  if (interval === undefined) errors.retry_initial_interval = 'must be a duration such as 500ms, 30s, 5m or 1h, or empty';
  const coefficient = readCoefficient(values.retry_backoff_coefficient);
  if (coefficient === undefined) errors.retry_backoff_coefficient = 'must be a number such as 2 or 1.5, or empty';
  const parsed = AppPatch.safeParse({ name: values.name, retry_initial_interval_ms: interval ?? null, retry_backoff_coefficient: coefficient ?? null });
  if (!parsed.success) {
    const found = fieldErrors(parsed.error, { retry_initial_interval_ms: 'retry_initial_interval' });
    for (const issue of parsed.error.issues) {
      // In milliseconds the bounds mean little to a person: say them as spans.
      if (issue.path[0] !== 'retry_initial_interval_ms') continue;
      if (issue.code === 'too_small') found.retry_initial_interval = `must be at least ${formatSpan(Number(issue.minimum))}`;
      if (issue.code === 'too_big') found.retry_initial_interval = `must be at most ${formatSpan(Number(issue.maximum))}`;
    }
    Object.assign(errors, found, errors);
  }
  if (!parsed.success || Object.keys(errors).length > 0) return data({ errors, values, saved: false }, { status: 400 });
  await updateApp(context.db, app.id, parsed.data);
  return { errors: {}, values, saved: true };
}

/** Null for empty (the server's default), undefined for text that is not a duration. */
function readInterval(text: string): number | null | undefined {
  return text.trim() === '' ? null : parseDuration(text);
}

function readCoefficient(text: string): number | null | undefined {
  if (text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** The schedule the form's current text gives, or undefined while that text is not valid. */
function scheduleOf(intervalText: string, coefficientText: string, defaults: RetrySchedule): RetrySchedule | undefined {
  const interval = readInterval(intervalText);
  const coefficient = readCoefficient(coefficientText);
  if (interval === undefined || coefficient === undefined) return undefined;
  return { initialIntervalMs: interval ?? defaults.initialIntervalMs, backoffCoefficient: coefficient ?? defaults.backoffCoefficient, maximumAttempts: defaults.maximumAttempts };
}

// Remix requires the route component to be the module's default export.
export default function AppSettings() {
  const { csrf, app, defaults, retryAfterCapMs } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const shown = result?.values ?? {
    name: app.name,
    retry_initial_interval: app.retry_initial_interval_ms === null ? '' : formatDuration(app.retry_initial_interval_ms),
    retry_backoff_coefficient: app.retry_backoff_coefficient === null ? '' : String(app.retry_backoff_coefficient),
  };
  // The preview follows what is typed once the page is interactive; before that it shows the saved settings.
  const [draft, setDraft] = useState({ interval: shown.retry_initial_interval, coefficient: shown.retry_backoff_coefficient });
  const schedule = scheduleOf(draft.interval, draft.coefficient, defaults);
  const errors: Partial<Record<string, string>> = result?.errors ?? {};

  return (
    <>
      <h1>Settings of {app.name}</h1>
      <p>
        <Link to={`/apps/${app.id}`}>Back to {app.name}</Link>
      </p>
      {result?.saved ? <p role="status">Settings saved. New deliveries use them; deliveries already retrying keep their schedule.</p> : null}
      <Form
        method="post"
        onChange={(event) => {
          const input = event.target as HTMLInputElement;
          if (input.name === 'retry_initial_interval') setDraft({ ...draft, interval: input.value });
          if (input.name === 'retry_backoff_coefficient') setDraft({ ...draft, coefficient: input.value });
        }}
      >
        <CsrfField token={csrf} />
        <Field label="Name" name="name" defaultValue={shown.name} error={errors.name} required />
        <h2>Retry schedule</h2>
        <p>
          A delivery that fails is tried again after a wait that grows by the backoff coefficient each time, {defaults.maximumAttempts} attempts in all (the server’s
          RETRY_MAXIMUM_ATTEMPTS). Leave a field empty to use the server’s default.
        </p>
        <Field
          label="Initial interval"
          name="retry_initial_interval"
          defaultValue={shown.retry_initial_interval}
          error={errors.retry_initial_interval}
          hint={`The wait before the second attempt, such as 30s, 5m or 1h. Empty: the server’s ${formatDuration(defaults.initialIntervalMs)}.`}
        />
        <Field
          label="Backoff coefficient"
          name="retry_backoff_coefficient"
          defaultValue={shown.retry_backoff_coefficient}
          error={errors.retry_backoff_coefficient}
          hint={`Each wait is the previous one times this, from 1 to 100. Empty: the server’s ${defaults.backoffCoefficient}.`}
        />
        <p>
          <button type="submit">Save settings</button>
        </p>
      </Form>

      <h2>When the attempts happen</h2>
      {schedule ? (
        <div style={{ overflowX: 'auto' }}>
          <table>
            <caption>If every attempt fails, counted from the first attempt</caption>
            <thead>
              <tr>
                <th scope="col">Attempt</th>
                <th scope="col">Wait before it</th>
                <th scope="col">After the first</th>
              </tr>
            </thead>
            <tbody>
              {retryPreview(schedule).map((attempt) => (
                <tr key={attempt.number}>
                  <th scope="row">{attempt.number}</th>
                  <td>{attempt.number === 1 ? 'none' : formatSpan(attempt.gapMs)}</td>
                  <td>{attempt.number === 1 ? 'at once' : formatSpan(attempt.atMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>Correct the retry settings above to see when each attempt would happen.</p>
      )}
      <p>
        An endpoint that answers 429 or 503 with a Retry-After header sets that wait itself instead, up to {formatSpan(retryAfterCapMs)}; this
        cap is separate from the schedule above.
      </p>
    </>
  );
}

export function ErrorBoundary() {
  return <AppErrorBoundary page="app settings" />;
}
