import { type ApiDeps, type ApiLimits, createApi } from '../../../src/api/create-api';
import type { Database } from '../../../src/db/database';
import { insertDevice } from '../../../src/db/devices';
import { insertPackage } from '../../../src/db/packages';
import { createSecretBox } from '../../../src/devices/secrets';
import { createMetrics } from '../../../src/metrics/metrics';
import { createPackageDownloads } from '../../../src/packages/download';
import { createDownloadRevocations } from '../../../src/packages/download-revocations';
import { downloadTokenKey } from '../../../src/packages/download-token';
import { createPackageCatalog } from '../../../src/packages/package-catalog';
import type { PackageStore } from '../../../src/packages/package-store';
import { createReadiness, databaseCheck } from '../../../src/readiness';
import { temporalUiRunUrl } from '../../../src/temporal/device-story';
import { defaultCoverageRanges } from '../../../workflows/lwm2m/radio-coverage';
import { defaultRadioResources } from '../../../workflows/lwm2m/upgrade-input';
import { emptyTables, openTempDatabase } from '../db/temp-database';
import { fakeDeviceStories, fakeTemporal, memoryPackageStore, silentLogger } from './fakes';

export const testSecrets = createSecretBox(Buffer.alloc(32, 3));
/** The download-token key of the test API (from the same secret key). */
export const testTokenKey = downloadTokenKey(Buffer.alloc(32, 3));

/** Downloads as the platform builds them, for devices reaching the API at https://ota.example.test. */
export function testDownloads(db: Database, store: PackageStore, publicBaseUrl = 'https://ota.example.test') {
  return createPackageDownloads({
    packages: createPackageCatalog(db),
    store,
    revocations: createDownloadRevocations(db),
    tokenKey: testTokenKey,
    publicBaseUrl,
  });
}

/** The API key the test API is started with (all scopes). */
export const testApiKey = 'ofk_test-api-key-with-every-scope';

/** What the test API is made of, over `db`: an in-memory package store and a fake Temporal client unless given. */
export function testApiDeps(
  db: Database,
  packageStore: PackageStore = memoryPackageStore(),
  temporal: ApiDeps['temporal'] = fakeTemporal().temporal,
  deviceStories: ApiDeps['deviceStories'] = fakeDeviceStories().stories,
): ApiDeps {
  return {
    db,
    packageStore,
    downloads: testDownloads(db, packageStore),
    temporal,
    deviceStories,
    temporalRunUrl: temporalUiRunUrl('http://temporal-ui.test', 'default'),
    secrets: testSecrets,
    config: {
      OTAFLOW_PUBLIC_URL: 'https://ota.example.test',
      OTAFLOW_API_HOST: '127.0.0.1',
      OTAFLOW_API_PORT: 0,
      // The API tests predate LwM2M over DTLS; their LwM2M devices use plain CoAP unless they ask.
      LWM2M_DTLS: 'off',
      coverageRanges: defaultCoverageRanges,
      radioResources: defaultRadioResources,
    },
    logger: silentLogger,
    readiness: createReadiness([databaseCheck(db)]),
    metrics: createMetrics(),
    apiKey: testApiKey,
  };
}

/** The API over a temp PGlite database, an in-memory package store and a fake Temporal client. */
export async function startTestApi(limits?: Partial<ApiLimits>) {
  const temp = await openTempDatabase();
  const packageStore = memoryPackageStore();
  const temporal = fakeTemporal();
  const stories = fakeDeviceStories();
  const app = createApi({
    ...testApiDeps(temp.db, packageStore, temporal.temporal, stories.stories),
    limits,
  });
  return {
    app,
    db: temp.db,
    packageStore,
    temporal,
    /** The devices' operations Temporal would answer with: set them per device. */
    stories: stories.runs,
    /** Headers that authenticate a request with `testApiKey`: `request(api.app).get(…).set(api.auth)`. */
    auth: { authorization: `Bearer ${testApiKey}` },
    async reset() {
      await emptyTables(temp.db);
      packageStore.objects.clear();
      temporal.reset();
      stories.runs.clear();
    },
    dispose: temp.dispose,
  };
}

/** A firmware package `pkg_1` for meter/m1 (version 2.0.0) and MQTT meters of that model. */
export async function insertFirmwareAndMeters(db: Database, deviceIds: string[]): Promise<void> {
  await insertPackage(db, {
    id: 'pkg_1',
    name: 'fw',
    version: '2.0.0',
    kind: 'firmware',
    product: 'meter',
    model: 'm1',
    supportedSourceVersions: [],
    fileName: 'fw.bin',
    size: 1,
    sha256: 'ab'.repeat(32),
    objectKey: 'packages/pkg_1',
  });
  for (const id of deviceIds) {
    await insertDevice(db, { id, protocol: 'mqtt', product: 'meter', model: 'm1', secretCiphertext: 'x' });
  }
}
