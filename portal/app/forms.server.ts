import { data } from '@remix-run/node';
import { z } from 'zod';
import { MIN_PASSWORD_LENGTH } from './password-rules';

/** A form field as trimmed text ('' when absent); passwords use `formRaw`, whose spaces count. */
export function formText(form: FormData, name: string): string {
  return formRaw(form, name).trim();
}

export function formRaw(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}

/** A one-line name a person must give: `missing` says what to enter when it is empty. */
export function requiredTextError(value: string, missing: string, max = 200): string | undefined {
  if (!value) return missing;
  return value.length > max ? `Use at most ${max} characters.` : undefined;
}

const email = z.email().max(254);

export function emailError(value: string): string | undefined {
  if (!value) return 'Enter your email address.';
  return email.safeParse(value).success ? undefined : 'Enter an email address like name@example.com.';
}

export function newPasswordError(value: string): string | undefined {
  if (value.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  // scrypt hashes any length, but a megabyte-long "password" is only a way to burn CPU.
  if (value.length > 1024) return 'Use at most 1024 characters.';
  return undefined;
}

/** Only the fields that have an error; empty when the form is valid. */
export function collectErrors(errors: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** The answer to a form with errors: the messages by field (or `form`) and what was typed, to show again. */
export function invalidForm<V extends Record<string, string>>(errors: Record<string, string>, values: V, status = 400) {
  return data({ errors, values }, { status });
}
