/**
 * Which certificate otaflow's TLS listeners serve: the configured one, or the local certificate
 * authority's (created on first start), issued for every name devices may use to reach this host.
 */
import os from 'node:os';
import path from 'node:path';
import { hostOf } from '../host-and-port';
import type { Logger } from '../logger';
import { ensureLocalCertificates } from './local-certificate-authority';
import { loadServerCredentials, type ServerCredentials } from './server-credentials';

export interface TlsSettings {
  dataDir: string;
  OTAFLOW_TLS_CERT_FILE?: string;
  OTAFLOW_TLS_KEY_FILE?: string;
  OTAFLOW_TLS_HOSTNAMES: string[];
  OTAFLOW_PUBLIC_URL?: string;
  OTAFLOW_API_HOST: string;
  MQTT_HOST: string;
  LWM2M_PUBLIC_HOST?: string;
}

export interface PlatformCredentials {
  credentials: ServerCredentials;
  /** The local CA devices are given; absent with a configured certificate. */
  caFile?: string;
}

export async function loadPlatformCredentials(
  settings: TlsSettings,
  log: Logger,
): Promise<PlatformCredentials> {
  if (settings.OTAFLOW_TLS_CERT_FILE && settings.OTAFLOW_TLS_KEY_FILE) {
    const files = { certFile: settings.OTAFLOW_TLS_CERT_FILE, keyFile: settings.OTAFLOW_TLS_KEY_FILE };
    return { credentials: loadServerCredentials(files, log) };
  }
  const local = await ensureLocalCertificates(path.join(settings.dataDir, 'tls'), localHostnames(settings));
  if (local.createdAuthority) log.info({ caFile: local.caFile }, 'created a local certificate authority');
  if (local.issuedServerCertificate)
    log.info({ certFile: local.certFile }, 'issued a local server certificate');
  return { credentials: loadServerCredentials(local, log), caFile: local.caFile };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The names of this machine itself, which every local certificate covers. */
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Every name a device may reach this host by; the certificate must name each. */
export function localHostnames(settings: TlsSettings): string[] {
  const names = [
    ...LOOPBACK_NAMES,
    os.hostname(),
    settings.OTAFLOW_API_HOST,
    settings.MQTT_HOST,
    settings.OTAFLOW_PUBLIC_URL ? new URL(settings.OTAFLOW_PUBLIC_URL).hostname.replace(/^\[|\]$/g, '') : '',
    settings.LWM2M_PUBLIC_HOST ? hostOf(settings.LWM2M_PUBLIC_HOST) : '',
    ...settings.OTAFLOW_TLS_HOSTNAMES,
  ];
  return [...new Set(names.filter((name) => !WILDCARD_HOSTS.has(name)))];
}
