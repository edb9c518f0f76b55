import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { locateBinary } from '../../../src/stack/binaries';
import { otaSearchAttributeNames } from '../../../workflows/definitions';

/**
 * Temporal's time-skipping test server with otaflow's search attributes registered, as the dev
 * server registers them. Uses the server `npm run provision` installs (no internet needed); without
 * it, the SDK downloads the server itself.
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const testServer = locateBinary('temporal-test-server');
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    testServer ? { server: { executable: { type: 'existing-path', path: testServer } } } : {},
  );
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(otaSearchAttributeNames.map((name) => [name, keyword])),
    });
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}
