/**
 * How a device built for the seed platform fetches a package: `GET url` with
 * `Authorization: Bearer {access_token}`, streamed and hashed as it arrives, resuming an interrupted
 * transfer with an HTTP `Range` request ("The platform supports resumable download").
 */
import { createHash, type Hash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { MqttResultCode } from '../../workflows/failure-causes';

export interface DownloadRequest {
  url: string;
  accessToken?: string;
  /** Verifies an `https:` server against this CA instead of the system's. */
  ca?: Buffer;
  expectedSize: number;
  sha256: string;
  /** Injected fault: the device's storage flips a bit, so the integrity check fails for real. */
  corrupt?: boolean;
  /** Injected fault: the connection breaks once when this many bytes have arrived. */
  dropConnectionOnceAt?: number;
  /** Reads no faster than this, as over a slow radio link (NB-IoT); unlimited when absent. */
  bytesPerSecond?: number;
  /** Interrupted transfers resumed before the device gives up (default {@link DEFAULT_MAX_RESUMES}). */
  maxResumes?: number;
  onProgress?: (received: number, total: number) => void;
  /** Called each time the download continues from an offset with a Range request. */
  onResume?: (offset: number) => void;
}

export type DownloadResult =
  | { ok: true; size: number; interruptions: number }
  | { ok: false; resultCode: number; description: string };

type AttemptOutcome =
  | { kind: 'complete' }
  | { kind: 'interrupted'; reason: string }
  | { kind: 'refused'; status: number };

const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Resumes wait 0.1 s, doubling up to 5 s: the default keeps a device retrying for about two minutes,
 * long enough to ride out a restart of the platform serving the download (the seed allows 24 hours
 * for the download), where a device that gave up within a second would fail an upgrade for nothing.
 */
const DEFAULT_MAX_RESUMES = 30;
const FIRST_RESUME_DELAY_MS = 100;
const MAX_RESUME_DELAY_MS = 5_000;

export async function downloadPackage(request: DownloadRequest): Promise<DownloadResult> {
  const maxResumes = request.maxResumes ?? DEFAULT_MAX_RESUMES;
  let hash = createHash('sha256');
  let received = 0;
  let dropPending = request.dropConnectionOnceAt !== undefined;
  let corruptionPending = request.corrupt === true;

  function consume(chunk: Buffer, digest: Hash): void {
    let bytes = chunk;
    if (corruptionPending && bytes.length > 0) {
      bytes = Buffer.from(bytes);
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      corruptionPending = false;
    }
    digest.update(bytes);
    received += bytes.length;
    request.onProgress?.(received, request.expectedSize);
  }

  function attempt(offset: number): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: AttemptOutcome) => {
        if (!settled) {
          settled = true;
          resolve(outcome);
        }
      };
      const headers: Record<string, string> = {};
      if (request.accessToken) headers.Authorization = `Bearer ${request.accessToken}`;
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const get = request.url.startsWith('https:') ? https.get : http.get;
      const options = { headers, timeout: REQUEST_TIMEOUT_MS, ca: request.ca };
      const req = get(request.url, options, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (offset > 0 && status === 200) {
          // The server ignored the Range header: start over from the first byte.
          hash = createHash('sha256');
          received = 0;
        } else if (status !== (offset > 0 ? 206 : 200)) {
          res.resume();
          settle({ kind: 'refused', status });
          return;
        }
        const digest = hash;
        let ended = false;
        res.on('data', (chunk: Buffer) => {
          const dropAt = request.dropConnectionOnceAt;
          if (dropPending && dropAt !== undefined && received + chunk.length >= dropAt) {
            dropPending = false;
            consume(chunk.subarray(0, Math.max(0, dropAt - received)), digest);
            req.destroy();
            settle({ kind: 'interrupted', reason: `connection dropped at byte ${received}` });
            return;
          }
          consume(chunk, digest);
          if (request.bytesPerSecond) {
            res.pause();
            setTimeout(() => res.resume(), (chunk.length / request.bytesPerSecond) * 1000);
          }
        });
        res.on('end', () => {
          ended = true;
        });
        res.on('error', () => undefined);
        res.on('close', () =>
          settle(ended ? { kind: 'complete' } : { kind: 'interrupted', reason: 'connection closed early' }),
        );
      });
      req.on('timeout', () => req.destroy(new Error('download timed out')));
      req.on('error', (error) => settle({ kind: 'interrupted', reason: error.message }));
    });
  }

  let interruptions = 0;
  for (;;) {
    const offset = received;
    if (offset > 0) request.onResume?.(offset);
    const outcome = await attempt(offset);
    if (outcome.kind === 'refused') {
      return {
        ok: false,
        resultCode: MqttResultCode.downloadTimeout,
        description: `download refused: HTTP ${outcome.status}`,
      };
    }
    if (outcome.kind === 'complete') break;
    interruptions += 1;
    if (interruptions > maxResumes) {
      return { ok: false, resultCode: MqttResultCode.downloadTimeout, description: outcome.reason };
    }
    await delay(Math.min(FIRST_RESUME_DELAY_MS * 2 ** (interruptions - 1), MAX_RESUME_DELAY_MS));
  }

  const digest = hash.digest('hex');
  if (received !== request.expectedSize || digest !== request.sha256.toLowerCase()) {
    return {
      ok: false,
      resultCode: MqttResultCode.packageCheckFailed,
      description: `package check failed: ${received} bytes with SHA-256 ${digest}`,
    };
  }
  return { ok: true, size: received, interruptions };
}
