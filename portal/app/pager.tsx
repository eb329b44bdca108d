import { Link } from '@remix-run/react';

/** Previous and next links of a list shown `?page=` by page; nothing when it fits on one. */
export function Pager({ page, pages }: { page: number; pages: number }) {
  if (pages <= 1) return null;
  return (
    <nav aria-label="Pages">
      {page > 1 ? <Link to={`?page=${page - 1}`}>Previous page</Link> : null} Page {page} of {pages}{' '}
      {page < pages ? <Link to={`?page=${page + 1}`}>Next page</Link> : null}
    </nav>
  );
}
