import type { z } from 'zod';
import { fieldErrors, invalidInput } from './problem';

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
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error);
  throw invalidInput(
    `invalid ${sources[source]}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    errors,
  );
}
