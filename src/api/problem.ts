import type { Response } from 'express';
import type { z } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

/**
 * An RFC 9457 problem: every error the API sends is `application/problem+json` in this shape, with
 * `errors` naming the fields at fault.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail);
  }
}

export function invalidInput(detail: string, errors: FieldError[]): HttpProblem {
  return new HttpProblem(400, 'Invalid request', detail, errors);
}

export function notFound(detail: string): HttpProblem {
  return new HttpProblem(404, 'Not found', detail);
}

export function conflict(detail: string, errors: FieldError[] = []): HttpProblem {
  return new HttpProblem(409, 'Conflict', detail, errors);
}

export function unprocessable(detail: string, errors: FieldError[]): HttpProblem {
  return new HttpProblem(422, 'Unprocessable request', detail, errors);
}

export function fieldErrors(error: z.ZodError, prefix: string[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join('.') || '(root)',
    message: issue.message,
  }));
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  res.status(problem.status).type('application/problem+json').json({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    errors: problem.errors,
  });
}
