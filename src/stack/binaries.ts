import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where the binaries provisioned by scripts/provision.sh live. An environment variable naming a
 * binary wins over the cache, so a machine can bring its own build.
 */
const binaries = {
  temporal: { envVar: 'OTAFLOW_TEMPORAL_BIN', fileName: 'temporal' },
  minio: { envVar: 'OTAFLOW_MINIO_BIN', fileName: 'minio' },
  'temporal-test-server': { envVar: 'OTAFLOW_TEMPORAL_TEST_SERVER', fileName: 'temporal-test-server' },
  'temporal-server': { envVar: 'OTAFLOW_TEMPORAL_SERVER_BIN', fileName: 'temporal-server' },
  'temporal-sql-tool': { envVar: 'OTAFLOW_TEMPORAL_SQL_TOOL_BIN', fileName: 'temporal-sql-tool' },
  'dtls-terminator': { envVar: 'OTAFLOW_DTLS_TERMINATOR_BIN', fileName: 'dtls-terminator' },
  'dtls-tunnels': { envVar: 'OTAFLOW_DTLS_TUNNELS_BIN', fileName: 'dtls-tunnels' },
  helm: { envVar: 'OTAFLOW_HELM_BIN', fileName: 'helm' },
  'k8s-manifest-check': { envVar: 'OTAFLOW_K8S_MANIFEST_CHECK_BIN', fileName: 'k8s-manifest-check' },
  'observability-check': { envVar: 'OTAFLOW_OBSERVABILITY_CHECK_BIN', fileName: 'observability-check' },
} as const;

export type BinaryName = keyof typeof binaries;

export function otaflowCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OTAFLOW_CACHE_DIR || path.join(os.homedir(), '.cache', 'otaflow');
}

/**
 * The path of a provisioned binary, or `undefined` when it was not provisioned (callers then fall back
 * to the SDK's own download, or say what to run). An override that is not executable is a mistake
 * worth stopping for, not a reason to fall back silently.
 */
export function locateBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { envVar, fileName } = binaries[name];
  const override = env[envVar];
  if (override) {
    if (!isExecutable(override)) {
      throw new Error(`${envVar}=${override} is not an executable file; fix it or unset it`);
    }
    return override;
  }
  const cached = path.join(otaflowCacheDir(env), 'bin', fileName);
  return isExecutable(cached) ? cached : undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The path of a provisioned binary; without one, an error saying what needs it and what to run. */
export function requireBinary(
  name: BinaryName,
  neededFor: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const binary = locateBinary(name, env);
  if (binary) return binary;
  throw new Error(
    `${name} is not provisioned, and ${neededFor} needs it: run \`npm run provision\` or set ${binaries[name].envVar}`,
  );
}
