import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { otaflowCacheDir } from '../../src/stack/binaries';

/** Keep in step with LESHAN_CLIENT_VERSION in scripts/provision.sh, which builds the client. */
const LESHAN_CLIENT_VERSION = '1.5.0';

/**
 * The Java classpath of the Eclipse Leshan client (test/unit/lwm2m/leshan/InteropClient.java) that
 * scripts/provision.sh builds into the otaflow cache; OTAFLOW_LESHAN_DIR points at another build.
 */
export function leshanClientClasspath(): string {
  const dir =
    process.env.OTAFLOW_LESHAN_DIR ?? path.join(otaflowCacheDir(), 'leshan-client', LESHAN_CLIENT_VERSION);
  if (!existsSync(path.join(dir, 'classes'))) {
    throw new Error(`the Leshan client is not built in ${dir}: run \`npm run provision\``);
  }
  const lib = path.join(dir, 'lib');
  return [path.join(dir, 'classes'), ...readdirSync(lib).map((jar) => path.join(lib, jar))].join(':');
}
