import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { DeliveryReason } from '../lib/failures.ts';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** jsonb columns: pg parses them on the way out; on the way in we pass JSON text. */
type Json<T> = ColumnType<T, string, string>;

export type EndpointStatus = 'active' | 'inactive';
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';
export type AttemptTrigger = 'automatic' | 'manual' | 'replay';
export type { DeliveryReason } from '../lib/failures.ts';
export type UserRole = 'owner' | 'admin' | 'member';
/** An endpoint listens to the named event types, or to every one with "*". */
export type EnabledEvents = string[] | '*';

export interface AccountsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface UsersTable {
  id: string;
  account_id: string;
  email: string;
  name: string | null;
  password_hash: string;
  role: UserRole;
  created_at: CreatedAt;
}

export interface InvitesTable {
  id: string;
  account_id: string;
  email: string;
  role: Exclude<UserRole, 'owner'>;
  token_hash: string;
  invited_by: string | null;
  expires_at: Timestamp;
  accepted_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface AppsTable {
  id: string;
  account_id: string;
  name: string;
  retry_initial_interval_ms: number | null;
  retry_backoff_coefficient: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface EventTypesTable {
  id: string;
  app_id: string;
  name: string;
  description: string | null;
  created_at: CreatedAt;
}

export interface SubscribersTable {
  id: string;
  app_id: string;
  name: string;
  email: string | null;
  /** Subscriber portal links (and the sessions they opened) issued before this are refused. */
  portal_links_revoked_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface EndpointsTable {
  id: string;
  app_id: string;
  subscriber_id: string;
  url: string;
  description: string | null;
  version: string;
  status: EndpointStatus;
  enabled_events: Json<EnabledEvents>;
  /** Encrypted with SecretBox; never leaves the server in clear except to its owner. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: NullableTimestamp;
  disabled_reason: string | null;
  disabled_at: NullableTimestamp;
  /** When it was last disabled; kept when it is re-enabled, so a replay knows where its miss began. */
  last_disabled_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface MessagesTable {
  id: string;
  app_id: string;
  subscriber_id: string | null;
  endpoint_id: string | null;
  event_type: string;
  version: string;
  data: Json<unknown>;
  event_id: string | null;
  override_payload: boolean;
  idempotency_key: string | null;
  /** SHA-256 of the accepted request, to tell a true repeat from a key reused for another body. */
  request_hash: string;
  /** When the retention policy removed `data` (then JSON null); the row itself stays. */
  payload_purged_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface DeliveriesTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  app_id: string;
  subscriber_id: string;
  status: DeliveryStatus;
  /** Why it ended skipped or failed: a DeliveryReason code, and a message for people. */
  reason: ColumnType<DeliveryReason | null, DeliveryReason | null | undefined, DeliveryReason | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  /** What the next (or current) workflow start is for: `manual` for a resend, `replay` for a replay. */
  start_trigger: ColumnType<AttemptTrigger, AttemptTrigger | undefined, AttemptTrigger>;
  /** When that start was asked for; the reconciler starts it once it is overdue and unconfirmed. */
  start_requested_at: Timestamp;
  /** Set once Temporal confirmed the workflow start; null rows (still pending) are the reconciler's to start. */
  workflow_started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface AttemptsTable {
  id: string;
  delivery_id: string;
  message_id: string;
  endpoint_id: string;
  subscriber_id: string;
  app_id: string;
  event_type: string;
  number: number;
  trigger: AttemptTrigger;
  url: string;
  request_headers: Json<Record<string, string>>;
  request_body: string;
  status_code: number | null;
  response_body: string | null;
  error_code: string | null;
  error: string | null;
  succeeded: boolean;
  will_retry: boolean;
  duration_ms: number;
  workflow_id: string;
  workflow_run_id: string | null;
  /** When the retention policy removed the request and response bodies (then '' and null). */
  payload_purged_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface NotificationsTable {
  id: string;
  account_id: string;
  app_id: string;
  endpoint_id: string;
  delivery_id: string | null;
  kind: 'endpoint_disabled';
  recipient: string;
  status: 'pending' | 'sent' | 'failed';
  error: string | null;
  sent_at: NullableTimestamp;
  created_at: CreatedAt;
}

export type ReplayStatus = 'running' | 'paused' | 'completed' | 'cancelled' | 'stopped';
/** Who asked for a replay: a provider user (portal), an API key, or a subscriber (its portal link). */
export type ReplayRequesterKind = 'user' | 'api_key' | 'subscriber_link';

export interface ReplaysTable {
  id: string;
  app_id: string;
  subscriber_id: string;
  endpoint_id: string;
  requested_by_kind: ReplayRequesterKind;
  /** The user's, API key's or subscriber's id. */
  requested_by: string;
  /** Deliveries created in [since, until) are replayed. */
  since: Timestamp;
  until: Timestamp;
  status: ColumnType<ReplayStatus, ReplayStatus | undefined, ReplayStatus>;
  /** Why it stopped (status `stopped`), for people. */
  reason: ColumnType<string | null, string | null | undefined, string | null>;
  total: ColumnType<number, number | undefined, number>;
  sent: ColumnType<number, number | undefined, number>;
  succeeded: ColumnType<number, number | undefined, number>;
  failed: ColumnType<number, number | undefined, number>;
  remaining: ColumnType<number, number | undefined, number>;
  /** Set once Temporal confirmed the signal-with-start; null rows are the reconciler's to send. */
  workflow_signaled_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface IdempotencyKeysTable {
  account_id: string;
  key: string;
  request_hash: string;
  status_code: number | null;
  response: ColumnType<unknown, string | null | undefined, string | null>;
  locked_at: Timestamp;
  /** Updatable: an expired key is taken over by a new request. */
  created_at: Timestamp;
}

/** One failed portal login counted against `key` (`email:<email>` or `ip:<address>`). */
export interface LoginFailuresTable {
  key: string;
  failed_at: CreatedAt;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  invites: InvitesTable;
  api_keys: ApiKeysTable;
  apps: AppsTable;
  event_types: EventTypesTable;
  subscribers: SubscribersTable;
  endpoints: EndpointsTable;
  messages: MessagesTable;
  deliveries: DeliveriesTable;
  attempts: AttemptsTable;
  notifications: NotificationsTable;
  idempotency_keys: IdempotencyKeysTable;
  replays: ReplaysTable;
  login_failures: LoginFailuresTable;
}

export type ApiKey = Selectable<ApiKeysTable>;
export type App = Selectable<AppsTable>;
export type User = Selectable<UsersTable>;
/** An invitation to join an account, by emailed link. */
export type Invite = Selectable<InvitesTable>;
export type EventType = Selectable<EventTypesTable>;
export type Subscriber = Selectable<SubscribersTable>;
export type Endpoint = Selectable<EndpointsTable>;
export type EndpointUpdate = Updateable<EndpointsTable>;
export type Message = Selectable<MessagesTable>;
export type Attempt = Selectable<AttemptsTable>;
export type Replay = Selectable<ReplaysTable>;
export type NewAttempt = Insertable<AttemptsTable>;

