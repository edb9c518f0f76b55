import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { otaflowCacheDir } from '../../src/stack/binaries';

/** Keep in step with LESHAN_CLIENT_VERSION and CALIFORNIUM_VERSION in scripts/provision.sh. */
const javaClients = {
  'leshan-client': { version: '1.5.0', override: 'OTAFLOW_LESHAN_DIR' },
  'californium-client': { version: '3.14.0', override: 'OTAFLOW_CALIFORNIUM_DIR' },
} as const;

/**
 * The Java classpath of an interoperability client scripts/provision.sh builds into the otaflow
 * cache (classes and their Maven Central jars): Eclipse Leshan's (test/unit/lwm2m/leshan/) or
 * Eclipse Californium's (test/interop/californium-dtls/). Its override variable points at another build.
 */
export function javaClientClasspath(name: keyof typeof javaClients): string {
  const { version, override } = javaClients[name];
  const dir = process.env[override] ?? path.join(otaflowCacheDir(), name, version);
  if (!existsSync(path.join(dir, 'classes'))) {
    throw new Error(`the ${name} is not built in ${dir}: run \`npm run provision\``);
  }
  const lib = path.join(dir, 'lib');
  return [path.join(dir, 'classes'), ...readdirSync(lib).map((jar) => path.join(lib, jar))].join(':');
}
