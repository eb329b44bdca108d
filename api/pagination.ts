import type { Request, Response } from 'express';
import type { SelectQueryBuilder } from 'kysely';
import { z } from 'zod';
import { parseQuery } from './validation.ts';

export interface Page {
  page: number;
  perPage: number;
  offset: number;
}

const pageQuery = z.looseObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(25),
});

export function readPage(req: Request): Page {
  const { page, per_page } = parseQuery(pageQuery, req);
  return { page, perPage: per_page, offset: (page - 1) * per_page };
}

/** Lists answer a bare JSON array (as HostedHooks does); the paging facts travel in headers. */
export function sendPage(req: Request, res: Response, page: Page, total: number, items: unknown[]): void {
  const last = Math.max(1, Math.ceil(total / page.perPage));
  const link = (n: number, rel: string) => {
    // From PUBLIC_URL, never from the client's Host header.
    const url = new URL(`${String(req.app.locals.publicUrl ?? 'http://localhost')}${req.originalUrl}`);
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(page.perPage));
    return `<${url.toString()}>; rel="${rel}"`;
  };
  const links = [link(1, 'first'), link(last, 'last')];
  if (page.page > 1) links.push(link(Math.min(page.page - 1, last), 'prev'));
  if (page.page < last) links.push(link(page.page + 1, 'next'));
  res.set('Link', links.join(', '));
  res.set('X-Total-Count', String(total));
  res.json(items);
}

/** One page of a query's rows and the total count, read together. */
export async function fetchPage<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, page: Page): Promise<{ rows: O[]; total: number }> {
  const [rows, count] = await Promise.all([
    query.limit(page.perPage).offset(page.offset).execute(),
    query
      .clearSelect()
      .clearOrderBy()
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number((count as { n: number }).n) };
}
