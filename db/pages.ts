import { sql, type SelectQueryBuilder } from 'kysely';

/** Which rows of a list to read (the API's `page` and `per_page` come down to this). */
export interface PageSlice {
  limit: number;
  offset: number;
}

/** One page of a list's rows and the size of the whole list. */
export interface PageOf<T> {
  rows: T[];
  total: number;
}

/** One page of a query's rows and the total count, read together. */
export async function fetchPage<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, slice: PageSlice): Promise<PageOf<O>> {
  const [rows, count] = await Promise.all([
    query.limit(slice.limit).offset(slice.offset).execute(),
    query
      .clearSelect()
      .clearOrderBy()
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number((count as { n: number }).n) };
}

/** The order of the lists of one table: newest first, the id breaking ties so pages never overlap. */
export function newestFirst<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
  return query.orderBy(sql.ref('created_at'), 'desc').orderBy(sql.ref('id'), 'desc');
}
