/**
 * How otaflow reaches Temporal, read the way every Temporal SDK and the `temporal` CLI read it
 * (`@temporalio/envconfig`): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH (or their _DATA forms),
 * TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*, and TOML profiles (TEMPORAL_CONFIG_FILE,
 * TEMPORAL_PROFILE), the environment overriding the profile. The same settings serve the client and
 * the workers, so one image runs against the dev server, a cluster with mTLS, or Temporal Cloud.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalConnectionSettings {
  /** Unset: otaflow starts the embedded dev server. */
  address?: string;
  namespace: string;
  /** TLS, API key and gRPC metadata, for `Connection.connect` and `NativeConnection.connect` alike. */
  connection: Pick<NativeConnectionOptions, 'tls' | 'apiKey' | 'metadata'>;
}

const DEFAULT_NAMESPACE = 'default';

/** Throws an Error naming the setting at fault (a certificate file that cannot be read, a bad profile). */
export function loadTemporalConnectionSettings(env: NodeJS.ProcessEnv): TemporalConnectionSettings {
  // Blank means unset here as everywhere in otaflow's configuration.
  const overrideEnvVars = Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith('TEMPORAL_') && (entry[1] ?? '').trim() !== '',
    ),
  );
  const { connectionOptions, namespace } = loadClientConnectConfig({
    overrideEnvVars,
  });
  const { address, tls, apiKey, metadata } = connectionOptions;
  if (!address && (tls || apiKey || metadata)) {
    throw new Error(
      'TEMPORAL_ADDRESS: TLS, an API key or gRPC metadata are set for Temporal, but no address: the embedded dev server takes none of them',
    );
  }
  return {
    address: address?.trim() || undefined,
    namespace: namespace?.trim() || DEFAULT_NAMESPACE,
    connection: { tls, apiKey, metadata },
  };
}
