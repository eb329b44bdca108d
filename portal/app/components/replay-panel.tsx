import { useEffect, useState } from 'react';
import { useRevalidator } from '@remix-run/react';
import type { ReplayRequesterKind, ReplayStatus } from '../../../db/database.ts';
import { utcMinute } from '../utc-minute';
import { Field } from './field';
import { FormError } from './form-error';
import { IntentForm } from './intent-form';

// One replay panel for both portals: props in, forms out. The route owns the loader (see
// endpointReplayState in replays.server.ts), the action (requestEndpointReplay, controlEndpointReplay)
// and the resource route the progress is polled from (replayResource).

/** A replay as both portals show it (replayView in replays.server.ts builds it). */
export interface ReplayView {
  id: string;
  endpointId: string;
  status: ReplayStatus;
  /** Why it stopped (status `stopped`). */
  reason: string | null;
  since: string;
  until: string;
  total: number;
  sent: number;
  succeeded: number;
  failed: number;
  remaining: number;
  requestedBy: { kind: ReplayRequesterKind; name: string };
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Completed, cancelled or stopped: nothing will change any more. */
  finished: boolean;
}

/** What a loader gives the panel of one endpoint. */
export interface EndpointReplayState {
  /** What a replay with the default range would send now. */
  missed: { count: number; since: string };
  latest: ReplayView | null;
}

/** The form intents the panel posts: a replay request, and the buttons of an unfinished replay. */
export const REPLAY_INTENT = 'replay';
export const REPLAY_CONTROLS = ['replay-pause', 'replay-resume', 'replay-cancel'] as const;
export type ReplayControlIntent = (typeof REPLAY_CONTROLS)[number];

/** Whether a posted intent is one of the panel's pause, resume or cancel buttons. */
export function isReplayControlIntent(intent: string): intent is ReplayControlIntent {
  return (REPLAY_CONTROLS as readonly string[]).includes(intent);
}

/** A replay action's answer, as the route returns it for the panel to show. */
export interface ReplayFormResult {
  intent: typeof REPLAY_INTENT | ReplayControlIntent;
  endpointId: string;
  errors: Record<string, string>;
  values: Record<string, string>;
  done?: string;
}

/** How often a replay under way is read again. */
const POLL_MS = 2000;
/** Failed reads in a row after which live updates stop (a reload still shows the progress). */
const MAX_POLL_FAILURES = 3;

const STATUS_WORDS: Record<ReplayStatus, string> = {
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
  stopped: 'Stopped',
};

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * The latest replay, read again from `pollUrl` every POLL_MS while it is running or paused. A plain
 * fetch rather than useFetcher: a failed poll must not replace the page with its error boundary.
 * Once the replay ends, the page's loaders run again so what it counts as missed is current.
 */
function useLiveReplay(latest: ReplayView | null, pollUrl: (replayId: string) => string): { replay: ReplayView | null; live: boolean } {
  const [polled, setPolled] = useState<ReplayView | null>(null);
  const [failures, setFailures] = useState(0);
  const revalidator = useRevalidator();
  // The fresher of what the page loaded and what the last poll read, for the same replay.
  const replay = polled && latest && polled.id === latest.id && polled.updatedAt > latest.updatedAt ? polled : latest;
  const live = replay !== null && !replay.finished && failures < MAX_POLL_FAILURES;
  const url = replay ? pollUrl(replay.id) : null;

  useEffect(() => {
    if (!live || !url) return;
    let stopped = false;
    const timer = setTimeout(() => {
      fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
        .then(async (response) => {
          // A signed-out session is redirected to the login page: HTML, not the replay.
          if (!response.ok || !response.headers.get('content-type')?.includes('application/json')) throw new Error(`status ${response.status}`);
          const view = (await response.json()) as ReplayView;
          if (stopped) return;
          setPolled(view);
          setFailures(0);
        })
        .catch(() => {
          if (!stopped) setFailures((n) => n + 1);
        });
    }, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // A new timer after each answer: `polled` and `failures` change with every one.
  }, [live, url, polled, failures]);

  const endedWhileOpen = Boolean(polled?.finished && latest && !latest.finished && polled.id === latest.id);
  useEffect(() => {
    if (endedWhileOpen && revalidator.state === 'idle') revalidator.revalidate();
    // Once: after revalidation `latest` is finished too.
  }, [endedWhileOpen]);

  return { replay, live };
}

/** The latest replay: status, a progress bar with its words, the counts, who asked, and its buttons. */
function ReplayProgress({ replay, live, csrf, canControl, headingLevel }: { replay: ReplayView; live: boolean; csrf: string; canControl: boolean; headingLevel: 'h3' | 'h4' }) {
  const Heading = headingLevel;
  const percent = replay.total === 0 ? 100 : Math.floor((replay.sent / replay.total) * 100);
  const words = `${replay.sent} of ${plural(replay.total, 'message', 'messages')} sent (${percent}%)`;
  const control = (intent: ReplayControlIntent, label: string) => (
    <IntentForm csrf={csrf} intent={intent}>
      <input type="hidden" name="replay_id" value={replay.id} />
      <input type="hidden" name="endpoint_id" value={replay.endpointId} />
      <button type="submit">{label}</button>
    </IntentForm>
  );
  return (
    <section className="replay-progress" aria-label="Latest replay">
      <Heading>Latest replay</Heading>
      <p aria-live="polite">
        Status: <strong className={`replay-status replay-status-${replay.status}`}>{STATUS_WORDS[replay.status]}</strong>
        {replay.status === 'stopped' && replay.reason ? ` — ${replay.reason}` : null}
      </p>
      <p className="replay-bar">
        <progress max={Math.max(replay.total, 1)} value={replay.total === 0 ? 1 : replay.sent} aria-label="Replay progress">
          {words}
        </progress>{' '}
        <span>{words}</span>
      </p>
      <dl className="facts replay-counts">
        <dt>Total</dt>
        <dd>{replay.total}</dd>
        <dt>Sent</dt>
        <dd>{replay.sent}</dd>
        <dt>Succeeded</dt>
        <dd>{replay.succeeded}</dd>
        <dt>Failed</dt>
        <dd>{replay.failed}</dd>
        <dt>Remaining</dt>
        <dd>{replay.remaining}</dd>
        <dt>Range</dt>
        <dd>
          {utcMinute(new Date(replay.since))} to {utcMinute(new Date(replay.until))}
        </dd>
        <dt>Asked by</dt>
        <dd>
          {replay.requestedBy.name}, <time dateTime={replay.createdAt}>{utcMinute(new Date(replay.createdAt))}</time>
        </dd>
        {replay.finishedAt ? (
          <>
            <dt>Ended</dt>
            <dd>
              <time dateTime={replay.finishedAt}>{utcMinute(new Date(replay.finishedAt))}</time>
            </dd>
          </>
        ) : null}
      </dl>
      {replay.finished ? null : (
        <>
          {live ? null : <p className="field-hint">Reload the page to see its progress.</p>}
          <noscript>
            <p className="field-hint">Reload the page to see its progress.</p>
          </noscript>
          {canControl ? (
            <div className="replay-controls">
              {replay.status === 'paused' ? control('replay-resume', 'Resume replay') : control('replay-pause', 'Pause replay')}
              {control('replay-cancel', 'Cancel replay')}
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}

export interface ReplayPanelProps {
  csrf: string;
  endpointId: string;
  /** A disabled endpoint must be re-enabled before a replay: the form is replaced by that advice. */
  endpointActive: boolean;
  state: EndpointReplayState;
  /** The page's resource route that answers one replay as JSON, scoped to its portal. */
  pollUrl: (replayId: string) => string;
  /** May ask for replays and pause, resume or cancel them; otherwise the progress only. */
  canRequest: boolean;
  /** Said instead of the form when `canRequest` is false. */
  notAllowed?: string;
  /** The page action's answer, when it was about this endpoint's replays. */
  result?: ReplayFormResult;
  /** The level of the panel's own headings, under the page's. */
  headingLevel?: 'h3' | 'h4';
}

/** Replay an endpoint's missed messages: the request form, then the latest replay's live progress. */
export function ReplayPanel(props: ReplayPanelProps) {
  const { csrf, endpointId, endpointActive, state, canRequest, result } = props;
  const headingLevel = props.headingLevel ?? 'h4';
  const { replay, live } = useLiveReplay(state.latest, props.pollUrl);
  const requested = result?.intent === REPLAY_INTENT ? result : undefined;
  const controlled = result && result.intent !== REPLAY_INTENT ? result : undefined;
  const typed = requested && !requested.done ? requested.values : {};
  const missed = `${plural(state.missed.count, 'missed message', 'missed messages')} since ${utcMinute(new Date(state.missed.since))}`;
  return (
    <div className="replay-panel">
      {result?.done ? <p role="status">{result.done}</p> : null}
      <FormError message={controlled?.errors.form} />
      {!canRequest ? (
        <p>{props.notAllowed ?? 'You can follow replays here, but not start one.'}</p>
      ) : !endpointActive ? (
        <>
          <FormError message={requested?.errors.form} />
          <p>Re-enable the endpoint first: a replay to a disabled endpoint would only skip again. ({missed}.)</p>
        </>
      ) : (
        <IntentForm csrf={csrf} intent={REPLAY_INTENT} className="replay-form">
          <input type="hidden" name="endpoint_id" value={endpointId} />
          <p>
            Sends this endpoint’s failed and skipped messages created in a range again. Leave both times empty to replay from where the endpoint’s miss began ({missed}) until now.
          </p>
          <FormError message={requested?.errors.form} />
          <Field label="From (UTC)" name="since" type="datetime-local" defaultValue={typed.since ?? ''} error={requested?.errors.since} hint="Empty: where the endpoint’s miss began." />
          <Field label="Until (UTC)" name="until" type="datetime-local" defaultValue={typed.until ?? ''} error={requested?.errors.until} hint="Empty: now." />
          <p>
            <button type="submit">Replay missed messages</button>
          </p>
        </IntentForm>
      )}
      {replay ? <ReplayProgress replay={replay} live={live} csrf={csrf} canControl={canRequest} headingLevel={headingLevel} /> : <p>No replay of this endpoint yet.</p>}
    </div>
  );
}
