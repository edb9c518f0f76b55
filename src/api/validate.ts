import type { z } from 'zod';
import { type FieldError, fieldErrors, invalidInput } from './problem';

const sources = { body: 'request body', query: 'query string', params: 'path' } as const;

/** Parses one part of a request, or throws a 400 problem naming each field at fault. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  source: keyof typeof sources,
): z.output<Schema> {
  if (source === 'body' && value === undefined) {
    throw invalidInput('the request body must be JSON (Content-Type: application/json)', [
      { path: '(root)', message: 'missing JSON body' },
    ]);
  }
  const parsed = schema.safeParse(value);
  const nulErrors = nulCharacterErrors(value);
  if (parsed.success && nulErrors.length === 0) return parsed.data;
  const errors = nulErrors.length > 0 ? nulErrors : fieldErrors(parsed.error as z.ZodError);
  throw invalidInput(
    `invalid ${sources[source]}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    errors,
  );
}

/**
 * PostgreSQL text cannot hold U+0000, so a NUL would pass validation and then fail the query: it is
 * refused up front, naming where it is.
 */
export function nulCharacterErrors(value: unknown, path: string[] = []): FieldError[] {
  const here = path.join('.') || '(root)';
  if (typeof value === 'string')
    return value.includes('\u0000') ? [{ path: here, message: NUL_MESSAGE }] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key.includes('\u0000')
      ? [{ path: [...path, key].join('.'), message: NUL_MESSAGE }]
      : nulCharacterErrors(item, [...path, key]),
  );
}

const NUL_MESSAGE = 'contains a NUL character (U+0000)';
