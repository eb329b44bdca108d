import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { EventType } from './database.ts';
import { fetchPage, type PageOf, type PageSlice } from './pages.ts';

/** What an endpoint's answer and its enabled_events check need of the app's event types. */
export type EventTypeRef = Pick<EventType, 'id' | 'name' | 'created_at'>;

/** By name. */
export function listEventTypes(db: Db, appId: string, slice: PageSlice): Promise<PageOf<EventType>> {
  return fetchPage(db.selectFrom('event_types').where('app_id', '=', appId).selectAll().orderBy('name'), slice);
}

/** All of the app's event types, by name. */
export function eventTypesOf(db: Db, appId: string): Promise<EventTypeRef[]> {
  return db.selectFrom('event_types').select(['id', 'name', 'created_at']).where('app_id', '=', appId).orderBy('name').execute();
}

/** The first name in order, which code samples show when not asked for one. */
export async function firstEventTypeName(db: Db, appId: string): Promise<string | undefined> {
  const first = await db.selectFrom('event_types').select('name').where('app_id', '=', appId).orderBy('name').limit(1).executeTakeFirst();
  return first?.name;
}

/** Undefined when the app already has an event type of this name. */
export function createEventType(db: Db, appId: string, fields: { name: string; description: string | null }): Promise<EventType | undefined> {
  return db
    .insertInto('event_types')
    .values({ id: newId('eventType'), app_id: appId, ...fields })
    .onConflict((oc) => oc.columns(['app_id', 'name']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findEventType(db: Db, appId: string, eventTypeId: string): Promise<EventType | undefined> {
  return db.selectFrom('event_types').selectAll().where('app_id', '=', appId).where('id', '=', eventTypeId).executeTakeFirst();
}

export async function eventTypeNameTaken(db: Db, appId: string, name: string): Promise<boolean> {
  const clash = await db.selectFrom('event_types').select('id').where('app_id', '=', appId).where('name', '=', name).executeTakeFirst();
  return clash !== undefined;
}

/** Changes only the fields given. */
export function updateEventType(db: Db, eventTypeId: string, changes: { name?: string; description?: string | null }): Promise<EventType> {
  return db
    .updateTable('event_types')
    .set({ ...(changes.name !== undefined ? { name: changes.name } : {}), ...(changes.description !== undefined ? { description: changes.description } : {}) })
    .where('id', '=', eventTypeId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteEventType(db: Db, eventTypeId: string): Promise<void> {
  await db.deleteFrom('event_types').where('id', '=', eventTypeId).execute();
}
