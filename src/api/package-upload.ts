import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Request } from 'express';
import type { z } from 'zod';
import { fieldErrors, HttpProblem, invalidInput } from './problem';
import { PackageFields } from './schemas';
import { nulCharacterErrors } from './validate';

export type PackageFieldValues = z.output<typeof PackageFields>;

export interface UploadHandlers<Stored> {
  /** Streams the file into the store; called only once the fields are valid. */
  storeFile(fields: PackageFieldValues, file: Readable, fileName: string): Promise<Stored>;
  /** Undoes `storeFile` when the request turns out bad after the file was stored. */
  discard(stored: Stored): Promise<void>;
}

export interface ReceivedUpload<Stored> {
  fields: PackageFieldValues;
  fileName: string;
  stored: Stored;
}

/**
 * Reads a package upload (multipart/form-data: the fields, then the `file` part) without buffering
 * the file: the fields are validated when the file part begins, so a bad request is refused before
 * any byte is stored.
 */
export function receivePackageUpload<Stored>(
  req: Request,
  handlers: UploadHandlers<Stored>,
): Promise<ReceivedUpload<Stored>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 50, fieldSize: 64 * 1024 } });
    } catch (error) {
      reject(invalidInput(`not a multipart/form-data request: ${(error as Error).message}`, []));
      return;
    }
    const rawFields = new Map<string, string[]>();
    let fileName = '';
    let currentFile: Readable | undefined;
    let storing: Promise<Stored> | undefined;
    let validFields: PackageFieldValues | undefined;
    let failed = false;

    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      // Ends a store still reading the file; it then removes its partial object itself.
      currentFile?.destroy();
      // Whatever was stored for a request that failed later is removed before the answer goes out.
      const undo = storing?.then(handlers.discard, () => undefined) ?? Promise.resolve();
      undo.then(
        () => reject(error),
        () => reject(error),
      );
    };

    parser.on('field', (name, value, info) => {
      if (storing) {
        fail(
          invalidInput('every field must precede the file part', [
            { path: name, message: 'sent after the file part; send every field before the file' },
          ]),
        );
        return;
      }
      if (info.valueTruncated) {
        fail(invalidInput(`field ${name} is too long`, [{ path: name, message: 'longer than 64 KiB' }]));
        return;
      }
      rawFields.set(name, [...(rawFields.get(name) ?? []), value]);
    });

    parser.on('file', (name, file, info) => {
      currentFile = file;
      if (name !== 'file') {
        file.resume();
        fail(
          invalidInput(`unexpected file part ${name}`, [
            { path: name, message: 'the package goes in a part named file' },
          ]),
        );
        return;
      }
      const fields = parseFields(rawFields, true);
      if (fields instanceof HttpProblem) {
        file.resume();
        fail(fields);
        return;
      }
      validFields = fields;
      fileName = info.filename || 'package.bin';
      storing = handlers.storeFile(fields, file, fileName);
      storing.catch(fail);
    });

    parser.on('filesLimit', () =>
      fail(invalidInput('only one file per package', [{ path: 'file', message: 'sent twice' }])),
    );
    parser.on('fieldsLimit', () => fail(invalidInput('too many fields', [])));
    parser.on('error', (error) =>
      fail(invalidInput(`malformed multipart body: ${(error as Error).message}`, [])),
    );
    req.on('close', () => {
      if (!req.complete) fail(invalidInput('the upload was aborted', []));
    });

    parser.on('close', () => {
      if (failed) return;
      if (!storing || !validFields) {
        const fields = parseFields(rawFields, false);
        const errors = fields instanceof HttpProblem ? fields.errors : [];
        fail(invalidInput('the file part is missing', [...errors, { path: 'file', message: 'required' }]));
        return;
      }
      const fields = validFields;
      storing.then((stored) => {
        if (!failed) resolve({ fields, fileName, stored });
      }, fail);
    });

    req.pipe(parser);
  });
}

/** Form fields arrive as strings; supportedSourceVersions may be repeated or comma-separated. */
function parseFields(raw: Map<string, string[]>, fileHasBegun: boolean): PackageFieldValues | HttpProblem {
  const candidate: Record<string, unknown> = {};
  const errors = [];
  for (const [name, values] of raw) {
    if (name === 'supportedSourceVersions') {
      candidate[name] = [
        ...new Set(
          values.flatMap((value) => value.split(',').map((version) => version.trim())).filter(Boolean),
        ),
      ];
    } else if (values.length > 1) {
      errors.push({ path: name, message: 'given more than once' });
    } else {
      candidate[name] = values[0];
    }
  }
  errors.push(...nulCharacterErrors(candidate));
  const parsed = PackageFields.safeParse(candidate);
  if (parsed.success && errors.length === 0) return parsed.data;
  if (!parsed.success && errors.length === 0) {
    for (const error of fieldErrors(parsed.error)) {
      const missing = !raw.has(error.path.split('.')[0] ?? '');
      errors.push(
        missing && fileHasBegun
          ? { path: error.path, message: `${error.message}; fields must precede the file part` }
          : error,
      );
    }
  }
  const detail = fileHasBegun
    ? 'invalid package fields (every field must be sent before the file part)'
    : 'invalid package fields';
  return invalidInput(detail, errors);
}
