import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { openDownloadToken, sealDownloadToken } from './download-token';
import type { PackageCatalog } from './package-catalog';
import type { PackageStore } from './package-store';

/**
 * Package downloads for devices built for the seed platform: they GET the URL they were given with
 * `Authorization: Bearer <access_token>`. The token carries the query string of a MinIO presigned
 * URL, so MinIO itself checks its signature, object and expiry; otaflow checks that the token is its
 * own (`download-token.ts`) and not revoked, puts the URL back together and streams the bytes through
 * (ranges included, for resumable downloads).
 */
export interface IssuedDownload {
  url: string;
  accessToken: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type DownloadResponse =
  | { kind: 'stream'; status: number; headers: Record<string, string>; body: Readable }
  | { kind: 'refused'; status: number; message: string };

/** Why a token otaflow issued may no longer be used, if it may not. */
export interface DownloadRevocations {
  refusal(packageId: string, deviceId: string, issuedAt: Date): Promise<string | undefined>;
}

export interface PackageDownloads {
  issueDownload(packageId: string, deviceId: string, validitySeconds: number): Promise<IssuedDownload>;
  openDownload(
    packageId: string,
    authorization: string | undefined,
    range: string | undefined,
  ): Promise<DownloadResponse>;
}

export class UnknownPackageError extends Error {
  override name = 'UnknownPackageError';
  constructor(packageId: string) {
    super(`package ${packageId} does not exist`);
  }
}

export function packageDownloadPath(packageId: string): string {
  return `/ota/packages/${encodeURIComponent(packageId)}/file`;
}

/** Headers of MinIO's answer that the device needs, passed on as they are. */
const forwardedHeaders = ['content-length', 'content-range', 'accept-ranges', 'etag', 'last-modified'];

export function createPackageDownloads(deps: {
  packages: PackageCatalog;
  store: PackageStore;
  revocations: DownloadRevocations;
  /** Signs the tokens (`downloadTokenKey`). */
  tokenKey: Buffer;
  /** Where devices reach the API, e.g. https://ota.example.com. */
  publicBaseUrl: string;
}): PackageDownloads {
  const { packages, store, tokenKey } = deps;
  const publicBaseUrl = deps.publicBaseUrl.replace(/\/+$/, '');

  return {
    async issueDownload(packageId, deviceId, validitySeconds) {
      const pkg = await packages.find(packageId);
      if (!pkg) throw new UnknownPackageError(packageId);
      const issuedAt = Math.floor(Date.now() / 1000);
      const presigned = new URL(await store.presignDownload(pkg.objectKey, validitySeconds));
      const presignedQuery = presigned.search.slice(1);
      return {
        url: `${publicBaseUrl}${packageDownloadPath(packageId)}`,
        accessToken: sealDownloadToken(tokenKey, { deviceId, issuedAt, presignedQuery }),
        expiresAt: issuedAt + validitySeconds,
      };
    },

    async openDownload(packageId, authorization, range) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      if (!token)
        return refused(401, 'an access token is required: send Authorization: Bearer <access_token>');
      const claims = openDownloadToken(tokenKey, token);
      if (claims === 'forged') return refused(403, 'the access token is not valid for this package');
      if (claims === 'malformed' || !new URLSearchParams(claims.presignedQuery).has('X-Amz-Signature'))
        return refused(401, 'the access token is malformed');
      const pkg = await packages.find(packageId);
      if (!pkg) return refused(404, `package ${packageId} does not exist`);
      const revoked = await deps.revocations.refusal(
        packageId,
        claims.deviceId,
        new Date(claims.issuedAt * 1000),
      );
      if (revoked) return refused(403, revoked);
      const query = claims.presignedQuery;

      const upstream = await get(`${store.objectUrl(pkg.objectKey)}?${query}`, range);
      const status = upstream.statusCode ?? 502;
      if (status === 200 || status === 206) {
        const headers: Record<string, string> = {
          'content-type': 'application/octet-stream',
          'content-disposition': `attachment; filename="${pkg.fileName.replace(/["\\]/g, '_')}"`,
        };
        for (const name of forwardedHeaders) {
          const value = upstream.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        return { kind: 'stream', status, headers, body: upstream };
      }
      return refusalFromStore(status, await readText(upstream));
    },
  };
}

function refused(status: number, message: string): DownloadResponse {
  return { kind: 'refused', status, message };
}

/** MinIO answers a refused presigned request with an S3 XML error; its code says why. */
function refusalFromStore(status: number, xml: string): DownloadResponse {
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  if (status === 403 && /expired/i.test(message ?? '')) return refused(403, 'the access token has expired');
  if (
    code === 'SignatureDoesNotMatch' ||
    code === 'AuthorizationQueryParametersError' ||
    code === 'AccessDenied'
  ) {
    return refused(403, 'the access token is not valid for this package');
  }
  if (code === 'InvalidRange') return refused(416, 'the requested range is outside the file');
  if (code === 'NoSuchKey') return refused(404, 'the package file is missing from the package store');
  if (status >= 400 && status < 500)
    return refused(403, `the package store refused the token (${code ?? status})`);
  return refused(502, `the package store failed (${code ?? status})`);
}

function get(url: string, range: string | undefined): Promise<http.IncomingMessage> {
  const transport = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.get(url, { headers: range ? { range } : {} }, resolve);
    request.on('error', reject);
  });
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `OTAFLOW_PUBLIC_URL`, or the API's own address when unset: its HTTPS listener when TLS is on (seed
 * 001: the device downloads "using HTTPS"), its plain one otherwise.
 */
export function publicBaseUrl(config: {
  OTAFLOW_PUBLIC_URL?: string;
  OTAFLOW_API_HOST: string;
  OTAFLOW_API_PORT: number;
  OTAFLOW_TLS: 'on' | 'off';
  OTAFLOW_API_TLS_PORT: number;
}): string {
  if (config.OTAFLOW_PUBLIC_URL) return config.OTAFLOW_PUBLIC_URL;
  return config.OTAFLOW_TLS === 'on'
    ? `https://${config.OTAFLOW_API_HOST}:${config.OTAFLOW_API_TLS_PORT}`
    : `http://${config.OTAFLOW_API_HOST}:${config.OTAFLOW_API_PORT}`;
}
