/**
 * otaflow's search attributes (workflows/definitions.ts) must exist, as Keyword, in its namespace
 * before any task starts: Temporal refuses a workflow that names an unknown one. The dev server is
 * started with them; on a cluster otaflow adds the missing ones at start, and where it may not (Temporal
 * Cloud, a key without operator rights) it stops, naming them and how to add them.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { otaSearchAttributeNames } from '../../workflows/definitions';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** The attributes it added (none when all were there). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const present = await listSearchAttributes(connection, namespace);
  const mistyped = otaSearchAttributeNames.filter(
    (name) => present[name] !== undefined && present[name] !== KEYWORD,
  );
  if (mistyped.length > 0) {
    throw new Error(
      `Temporal namespace ${namespace} has ${mistyped.join(', ')} as another type than Keyword: otaflow's workflows cannot set them`,
    );
  }
  const missing = otaSearchAttributeNames.filter((name) => present[name] === undefined);
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  } catch (error) {
    const commands = missing
      .map(
        (name) =>
          `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`,
      )
      .join('; ');
    throw new Error(
      `Temporal namespace ${namespace} lacks otaflow's search attributes ${missing.join(', ')} and otaflow could not add them (${(error as Error).message}); add them as Keyword: ${commands}`,
    );
  }
  return missing;
}

async function listSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<Record<string, number>> {
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return (customAttributes ?? {}) as Record<string, number>;
  } catch (error) {
    throw new Error(
      `cannot list the search attributes of Temporal namespace ${namespace}: ${(error as Error).message}`,
    );
  }
}
