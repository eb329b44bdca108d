import { z } from 'zod';

/** Building blocks shared by the resource schemas. */
export const Timestamp = z.iso.datetime().meta({ description: 'RFC 3339 time in UTC', example: '2026-11-28T18:00:00.000Z' });
export const NullableTimestamp = Timestamp.nullable();
export const Id = (what: string, prefix: string) => z.string().meta({ description: `${what} id`, example: `${prefix}_06h26m1asytmjng5cjf5c0fzer` });

export const ErrorOut = z
  .object({
    error: z.string().meta({ description: 'What went wrong, for a person' }),
    code: z.string().meta({ description: 'What went wrong, for a program', example: 'validation_failed' }),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

export const optionalEmail = z.email('must be an email address').max(254).nullish();
