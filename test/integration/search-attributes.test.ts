import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { otaSearchAttributeNames } from '../../workflows/definitions';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * On a Temporal that otaflow did not start, its search attributes are added at start where they are
 * missing, and a namespace that has one under another type stops it, naming the attribute.
 */
describe("otaflow's search attributes on a Temporal it did not start", () => {
  let stack: RealStack;
  let connection: Connection;

  beforeAll(async () => {
    stack = await startRealStack();
    connection = await Connection.connect({ address: stack.temporal.address });
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await stack?.stop();
  });

  async function freshNamespace(): Promise<string> {
    const namespace = `otaflow-sa-${randomBytes(4).toString('hex')}`;
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    await expect
      .poll(() =>
        connection.workflowService.describeNamespace({ namespace }).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    return namespace;
  }

  it('adds the missing ones as Keyword, once', async () => {
    const namespace = await freshNamespace();
    expect(await ensureSearchAttributes(connection, namespace)).toEqual(otaSearchAttributeNames);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of otaSearchAttributeNames) {
      expect(customAttributes?.[name], name).toBe(
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      );
    }
    expect(await ensureSearchAttributes(connection, namespace)).toEqual([]);
  }, 60_000);

  it('refuses a namespace where one of them has another type', async () => {
    const namespace = await freshNamespace();
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: { OtaStep: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT },
    });
    await expect(ensureSearchAttributes(connection, namespace)).rejects.toThrow(
      new RegExp(`Temporal namespace ${namespace} has OtaStep as another type than Keyword`),
    );
  }, 60_000);
});
