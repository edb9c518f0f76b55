import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { Client } from 'minio';

export interface PackageStoreOptions {
  /** MinIO's (or any S3's) base URL, e.g. http://127.0.0.1:9000. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
}

export interface StoredPackage {
  size: number;
  sha256: string;
}

export class PackageTooLargeError extends Error {
  override name = 'PackageTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than the limit of ${maxBytes} bytes`);
  }
}

export class EmptyPackageError extends Error {
  override name = 'EmptyPackageError';
  constructor() {
    super('the file is empty');
  }
}

export interface PackageStore {
  ensureBucket(): Promise<void>;
  /** Resolves when the store answers and holds the bucket (`/readyz`); rejects saying which it does not. */
  checkReachable(): Promise<void>;
  /**
   * Streams `source` into the object, hashing as it goes; never holds more than one upload part in
   * memory. On any failure (too large, empty, source or store error) the partial object is removed.
   */
  putPackage(objectKey: string, source: Readable, maxBytes: number): Promise<StoredPackage>;
  removePackage(objectKey: string): Promise<void>;
  /** A presigned GET URL for the object, valid `expirySeconds`. */
  presignDownload(objectKey: string, expirySeconds: number): Promise<string>;
  /** The object's URL without a query: a presigned URL is this plus its signature query. */
  objectUrl(objectKey: string): string;
  /** Bytes from `offset` on (`length` of them, or to the end), for segmented transfers. */
  openRange(objectKey: string, offset: number, length?: number): Promise<Readable>;
}

/** Upload part size: the most a streamed upload holds in memory at once (MinIO's minimum is 5 MiB). */
const PART_BYTES = 8 * 1024 * 1024;
/** S3's largest object; the upper bound handed to the client so it streams in parts of PART_BYTES. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 4;

export function createPackageStore(options: PackageStoreOptions): PackageStore {
  const endpoint = new URL(options.endpoint);
  const useSSL = endpoint.protocol === 'https:';
  const client = new Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    // A fixed region spares a bucket-location request before every presign.
    region: 'us-east-1',
    partSize: PART_BYTES,
  });
  const { bucket } = options;

  async function removePackage(objectKey: string): Promise<void> {
    try {
      await client.removeIncompleteUpload(bucket, objectKey);
    } catch (error) {
      // The usual case: no multipart upload was left open.
      if ((error as { code?: string }).code !== 'NoSuchUpload') throw error;
    }
    await client.removeObject(bucket, objectKey);
  }

  return {
    async ensureBucket() {
      if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
    },

    async checkReachable() {
      if (!(await client.bucketExists(bucket))) throw new Error(`bucket ${bucket} does not exist`);
    },

    async putPackage(objectKey, source, maxBytes) {
      const hash = createHash('sha256');
      let size = 0;
      let failure: unknown;
      // The client does not notice an errored input stream (it would wait forever), so the body is
      // always ended cleanly and failures are tracked here.
      const body = new PassThrough();
      const upload = client
        .putObject(bucket, objectKey, body, Math.min(maxBytes, MAX_OBJECT_BYTES))
        .catch((error) => {
          failure ??= error;
          body.destroy();
        });
      try {
        for await (const chunk of source) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) throw new PackageTooLargeError(maxBytes);
          hash.update(chunk as Buffer);
          if (failure !== undefined) break;
          if (!body.write(chunk)) await Promise.race([once(body, 'drain'), once(body, 'close')]);
        }
      } catch (error) {
        failure ??= error;
      }
      if (!body.destroyed) body.end();
      await upload;
      if (failure === undefined && size === 0) failure = new EmptyPackageError();
      if (failure !== undefined) {
        await removePackage(objectKey);
        throw failure;
      }
      return { size, sha256: hash.digest('hex') };
    },

    removePackage,

    presignDownload: (objectKey, expirySeconds) =>
      client.presignedGetObject(bucket, objectKey, expirySeconds),

    objectUrl(objectKey) {
      const path = [bucket, ...objectKey.split('/')].map(encodeURIComponent).join('/');
      return new URL(path, endpoint).toString();
    },

    openRange: (objectKey, offset, length) => client.getPartialObject(bucket, objectKey, offset, length),
  };
}
