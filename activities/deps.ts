import type { Db } from '../db/connection.ts';
import type { SecretBox } from '../lib/secrets.ts';
import type { HttpSender } from './http.ts';
import type { Mailer } from './mailer.ts';

/** What the activities are built from: the worker passes real ones, tests may pass their own. */
export interface ActivityDeps {
  db: Db;
  http: HttpSender;
  mailer: Mailer;
  secrets: SecretBox;
  publicUrl: string;
  clock?: () => Date;
}
