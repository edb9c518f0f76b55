import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';

/** A firmware package for a product and model, uploaded through the API as an application does. */
export async function uploadFirmware(
  api: ApiClient,
  firmware: { product: string; model: string; version: string; bytes?: number },
): Promise<{ id: string; sha256: string }> {
  const form = new FormData();
  form.set('name', `${firmware.product} firmware`);
  form.set('version', firmware.version);
  form.set('kind', 'firmware');
  form.set('product', firmware.product);
  form.set('model', firmware.model);
  form.set(
    'file',
    new Blob([randomBytes(firmware.bytes ?? 8 * 1024)]),
    `${firmware.model}-${firmware.version}.bin`,
  );
  return api.postForm('/v1/packages', form);
}

/** Creates a task upgrading the devices to the package and waits until it has completed; its ID. */
export async function runTaskToCompletion(
  api: ApiClient,
  packageId: string,
  deviceIds: string[],
  timeoutMs = 90_000,
): Promise<string> {
  const task = await api.post<{ id: string }>('/v1/tasks', { packageId, target: { deviceIds } });
  await expect
    .poll(async () => (await api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
      timeout: timeoutMs,
      interval: 500,
    })
    .toBe('completed');
  return task.id;
}

/** Each device's outcome in the task, by device ID. */
export async function outcomesOf(api: ApiClient, taskId: string): Promise<Record<string, string | null>> {
  const page = await api.get<{ items: { deviceId: string; outcome: string | null }[] }>(
    `/v1/tasks/${taskId}/devices?limit=500`,
  );
  return Object.fromEntries(page.items.map((row) => [row.deviceId, row.outcome]));
}
