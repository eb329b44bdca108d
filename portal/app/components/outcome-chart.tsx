import { useEffect, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface OutcomeBucketView {
  /** ISO time the hour or day starts (UTC). */
  start: string;
  succeeded: number;
  failed: number;
}

/** A bucket as the loader sends it to the page. */
export function bucketView(bucket: { start: Date; succeeded: number; failed: number }): OutcomeBucketView {
  return { start: bucket.start.toISOString(), succeeded: bucket.succeeded, failed: bucket.failed };
}

const HEIGHT = 220;

/**
 * Deliveries that ended per hour or day, succeeded vs failed, stacked (Recharts). Recharts draws in
 * the browser only, so the server renders the same numbers as a table, which stays (folded) under
 * the chart once it is drawn. Failed bars are hatched and both series are named in the legend, so
 * nothing depends on colour.
 */
export function OutcomeChart({ title, buckets, unit }: { title: string; buckets: OutcomeBucketView[]; unit: 'hour' | 'day' }) {
  const rows = buckets.map((b) => ({ ...b, label: unit === 'hour' ? b.start.slice(11, 16) : b.start.slice(5, 10) }));
  const succeeded = rows.reduce((sum, r) => sum + r.succeeded, 0);
  const failed = rows.reduce((sum, r) => sum + r.failed, 0);
  const summary = `${title}: ${succeeded} succeeded, ${failed} failed.`;
  const patternId = `failed-hatch-${unit}`;
  const [drawn, setDrawn] = useState(false);
  useEffect(() => setDrawn(true), []);
  return (
    <figure className="chart">
      <figcaption>
        {title} — {succeeded} succeeded, {failed} failed
      </figcaption>
      {drawn ? (
        <div role="img" aria-label={summary}>
          {/* The chart takes its container's width, so it fits a phone as well as a desktop. */}
          <ResponsiveContainer width="100%" height={HEIGHT}>
            <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
              <defs>
                <pattern id={patternId} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                  <rect width="6" height="6" fill="#f3c1c1" />
                  <line x1="0" y1="0" x2="0" y2="6" stroke="#b42318" strokeWidth="3" />
                </pattern>
              </defs>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="label" interval="preserveStartEnd" tick={{ fontSize: 11 }} />
              <YAxis allowDecimals={false} width={40} tick={{ fontSize: 11 }} />
              <Tooltip />
              <Legend />
              <Bar dataKey="succeeded" name="Succeeded" stackId="outcome" fill="#2e7d32" isAnimationActive={false} />
              <Bar dataKey="failed" name="Failed" stackId="outcome" fill={`url(#${patternId})`} stroke="#b42318" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      ) : null}
      <details open={!drawn}>
        <summary>The numbers as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{unit === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'}</th>
              <th scope="col">Succeeded</th>
              <th scope="col">Failed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.start}>
                <td>{unit === 'hour' ? r.start.slice(0, 16).replace('T', ' ') : r.start.slice(0, 10)}</td>
                <td>{r.succeeded}</td>
                <td>{r.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
