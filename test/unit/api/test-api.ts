import { createApi } from '../../../src/api/create-api';
import { createSecretBox } from '../../../src/devices/secrets';
import { defaultRadioResources } from '../../../workflows/lwm2m-steps';
import { defaultCoverageRanges } from '../../../workflows/radio-coverage';
import { emptyTables, openTempDatabase } from '../db/temp-database';
import { fakeTemporal, memoryPackageStore, silentLogger } from './fakes';

export const testSecrets = createSecretBox(Buffer.alloc(32, 3));

/** The API key the test API is started with (all scopes). */
export const testApiKey = 'ofk_test-api-key-with-every-scope';

/** The API over a temp PGlite database, an in-memory package store and a fake Temporal client. */
export async function startTestApi(limits?: { maxPackageBytes?: number; maxJsonBytes?: number }) {
  const temp = await openTempDatabase();
  const packageStore = memoryPackageStore();
  const temporal = fakeTemporal();
  const app = createApi({
    db: temp.db,
    packageStore,
    temporal: temporal.temporal,
    secrets: testSecrets,
    config: {
      OTAFLOW_PUBLIC_URL: 'https://ota.example.test',
      OTAFLOW_API_HOST: '127.0.0.1',
      OTAFLOW_API_PORT: 0,
      coverageRanges: defaultCoverageRanges,
      radioResources: defaultRadioResources,
    },
    logger: silentLogger,
    apiKey: testApiKey,
    limits,
  });
  return {
    app,
    db: temp.db,
    packageStore,
    temporal,
    /** Headers that authenticate a request with `testApiKey`: `request(api.app).get(…).set(api.auth)`. */
    auth: { authorization: `Bearer ${testApiKey}` },
    async reset() {
      await emptyTables(temp.db);
      packageStore.objects.clear();
      temporal.reset();
    },
    dispose: temp.dispose,
  };
}
