import type { Request, Response } from 'express';
import { z } from 'zod';
import type { PageOf, PageSlice } from '../db/pages.ts';
import { parseQuery } from './validation.ts';

/** The page asked for; `limit` is its `per_page`. A db list function takes it as its slice. */
export interface Page extends PageSlice {
  page: number;
}

const pageQuery = z.looseObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(25),
});

export function readPage(req: Request): Page {
  const { page, per_page } = parseQuery(pageQuery, req);
  return { page, limit: per_page, offset: (page - 1) * per_page };
}

/**
 * Lists answer a bare JSON array (as HostedHooks does); the paging facts travel in headers. `out`
 * shapes each row into its answer (rows shaped already need none).
 */
export function sendPage<T>(req: Request, res: Response, page: Page, { rows, total }: PageOf<T>, out?: (row: T) => unknown): void {
  const last = Math.max(1, Math.ceil(total / page.limit));
  const link = (n: number, rel: string) => {
    // From PUBLIC_URL, never from the client's Host header.
    const url = new URL(`${String(req.app.locals.publicUrl ?? 'http://localhost')}${req.originalUrl}`);
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(page.limit));
    return `<${url.toString()}>; rel="${rel}"`;
  };
  const links = [link(1, 'first'), link(last, 'last')];
  if (page.page > 1) links.push(link(Math.min(page.page - 1, last), 'prev'));
  if (page.page < last) links.push(link(page.page + 1, 'next'));
  res.set('Link', links.join(', '));
  res.set('X-Total-Count', String(total));
  res.json(out ? rows.map((row) => out(row)) : rows);
}
