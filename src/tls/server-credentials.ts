/**
 * The certificate and key every TLS listener of otaflow serves (MQTT over TLS, HTTPS downloads), read
 * from PEM files and read again when either file changes, so a renewed certificate (cert-manager,
 * certbot, a new local one) is served to new connections without a restart. A pair that does not
 * load is logged and the one before it stays in use.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import tls, { type SecureContextOptions } from 'node:tls';
import type { Logger } from '../logger';

export interface ServerCredentialFiles {
  certFile: string;
  keyFile: string;
}

/** A TLS server whose credentials can be swapped for new connections (`tls.Server`, `https.Server`). */
export interface ReloadableTlsServer {
  setSecureContext(options: SecureContextOptions): void;
}

export interface ServerCredentials {
  /** What a listener starts with; TLS 1.2 is the least version offered. */
  current(): SecureContextOptions;
  /** Servers given here get each reloaded pair. */
  serve(server: ReloadableTlsServer): void;
  stop(): void;
}

/** How often the files' modification times are compared: renewals are rare, a poll is cheap. */
const POLL_INTERVAL_MS = 2_000;

export const MIN_TLS_VERSION = 'TLSv1.2';

export function loadServerCredentials(
  files: ServerCredentialFiles,
  log: Logger,
  pollIntervalMs = POLL_INTERVAL_MS,
): ServerCredentials {
  let options = readPair(files);
  const servers: ReloadableTlsServer[] = [];

  const reload = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
    if (current.mtimeMs === previous.mtimeMs) return;
    try {
      const next = readPair(files);
      for (const server of servers) server.setSecureContext(next);
      options = next;
      log.info(files, 'TLS certificate reloaded');
    } catch (error) {
      log.error(
        { ...files, err: error },
        'TLS certificate not reloaded: the files do not make a pair; serving the previous one',
      );
    }
  };
  watchFile(files.certFile, { interval: pollIntervalMs }, reload);
  watchFile(files.keyFile, { interval: pollIntervalMs }, reload);

  return {
    current: () => options,
    serve: (server) => {
      servers.push(server);
    },
    stop() {
      unwatchFile(files.certFile, reload);
      unwatchFile(files.keyFile, reload);
    },
  };
}

/** Throws, naming the file, when a file is unreadable or the key does not match the certificate. */
function readPair(files: ServerCredentialFiles): SecureContextOptions {
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
  };
  const options = {
    cert: read(files.certFile),
    key: read(files.keyFile),
    minVersion: MIN_TLS_VERSION,
  } as const;
  try {
    tls.createSecureContext(options);
  } catch (error) {
    throw new Error(
      `${files.certFile} and ${files.keyFile} are not a certificate and its key: ${(error as Error).message}`,
    );
  }
  return options;
}
