import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { enqueueWebhookEvent } from '../../src/webhooks/outbox';
import { MqttResultCode } from '../../workflows/failure-causes';
import { consoleErrorsOf, launchChromium } from '../support/browser';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * The operators' console in Debian's Chromium, against the real stack: an operator signs in with an
 * API key, uploads a package, creates a task for simulated MQTT meters with the form and watches it
 * move live to completion (one upgrades, one refuses with the seed's storage cause, one comes online
 * only after the task was paused and resumed), then reads the failed meter's story; a read-only key is
 * offered no change; a revoked key's session ends; a task is cancelled. No page logs a console error.
 *
 * With OTAFLOW_SCREENSHOTS=<dir>, the main pages are saved there (docs/console/ holds the committed ones).
 */

const PRODUCT = { product: 'console-meter', model: 'CM-1' };
const credentialsHour = new Date();
const secretOf = (deviceId: string) => `secret-of-${deviceId}`;
/** `late` comes online only after the task was paused and resumed; `asleep` never does. */
const ids = {
  upgrades: 'console-ok',
  refuses: 'console-full',
  late: 'console-late',
  asleep: 'console-asleep',
};
const target = [ids.upgrades, ids.refuses, ids.late];
const STORAGE_CAUSE = 'Not enough storage for the new firmware package';
const screenshots = process.env.OTAFLOW_SCREENSHOTS;
const TEMPORAL_UI = 'http://temporal-ui.example:8233';

let stack: RealStack;
let platform: TestPlatform;
let browser: Browser;
const devices: SimulatedMqttDevice[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startRealStack({
    deviceAccounts: Object.values(ids).map((id) => deviceCredentials(id, secretOf(id), '0', credentialsHour)),
  });
  // Where the story's runs link to: a Temporal UI address, as an operator configures it.
  platform = await startTestPlatform(stack, { temporal: { TEMPORAL_UI_URL: TEMPORAL_UI } });
  for (const id of Object.values(ids)) {
    await platform.api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: secretOf(id) });
  }
  for (const id of [ids.upgrades, ids.refuses, ids.late]) {
    const device = new SimulatedMqttDevice({
      deviceId: id,
      secret: secretOf(id),
      brokerUrl: stack.mqtt.url,
      firmwareVersion: '1.0.0',
      credentialsHour,
      failWith: id === ids.refuses ? { resultCode: MqttResultCode.notEnoughSpace } : undefined,
    });
    if (id !== ids.late) await device.start();
    devices.push(device);
  }
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  for (const device of devices) await device.stop();
  await platform?.stop();
  await stack?.stop();
}, 60_000);

/** A fresh browser profile (its own cookies) on the console, with its console errors collected. */
async function openConsole(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const errors = consoleErrorsOf(page);
  await page.goto(`${platform.addresses.api}/`);
  return { page, errors };
}

async function signIn(page: Page, apiKey: string): Promise<void> {
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Sections' }).waitFor();
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

/** A section's link in the console's navigation. */
const section = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });

const tally = (page: Page, testId: string, key: string) =>
  page.getByTestId(testId).getByRole('listitem').filter({ hasText: key });

describe('the console in a real browser', () => {
  it('refuses an unknown key, signs in with a good one, and keeps the key out of the browser', async () => {
    const { page, errors } = await openConsole();
    await page.getByLabel('API key').fill(`ofk_${'x'.repeat(40)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('unknown API key');

    await signIn(page, platform.apiKey);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === 'otaflow_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.map((cookie) => cookie.value)).not.toContain(platform.apiKey);
    expect(await page.evaluate<string>('document.cookie')).not.toContain('otaflow_session');

    // A reload keeps the session; signing out ends it, and a reload stays signed out.
    await page.reload();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    await page.reload();
    await page.getByLabel('API key').waitFor();
    // The one error: Chromium's own line for the refused sign-in.
    expect(errors).toEqual([expect.stringMatching(/status of 401 .*\/v1\/session\)$/)]);
  });

  it("uploads a package, creates a task with the form, and shows it live through pause and resume to completion, then the failed device's story", async () => {
    const { page, errors } = await openConsole();
    await signIn(page, platform.apiKey);

    await section(page, 'Packages').click();
    await page.getByText('Upload a package').click();
    const upload = page.getByRole('form', { name: 'Upload a package' });
    await upload.getByLabel('Name', { exact: true }).fill('console-meter firmware');
    await upload.getByLabel('Version', { exact: true }).fill('2.0.0');
    await upload.getByLabel('Product', { exact: true }).fill(PRODUCT.product);
    await upload.getByLabel('Model', { exact: true }).fill(PRODUCT.model);
    const image = randomBytes(256 * 1024);
    await upload
      .getByLabel('File')
      .setInputFiles({ name: 'cm-2.0.0.bin', mimeType: 'application/octet-stream', buffer: image });
    await upload.getByRole('button', { name: 'Upload' }).click();
    const sha256 = createHash('sha256').update(image).digest('hex');
    await page.getByRole('status').getByText(sha256).waitFor({ timeout: 30_000 });
    await page.getByTestId('packages').getByText('2.0.0').waitFor();
    await screenshot(page, 'packages');

    await section(page, 'Tasks').click();
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Name (optional)').fill('console rollout');
    await page.getByLabel('Package').selectOption({ index: 1 });
    await page.getByLabel('A list of devices').check();
    await page.getByLabel(/^Device IDs/).fill(target.join('\n'));
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect.poll(() => page.getByTestId('preview').textContent()).toContain('would upgrade 3 devices');
    // The API's validation message, beside the field it names; nothing is created.
    await page.getByLabel('Upgrades in progress at once, at most').fill('0');
    await page.getByRole('button', { name: 'Create and start' }).click();
    await page
      .locator('.field-error')
      .getByText(/>=\s*1/)
      .waitFor();
    expect((await platform.api.get<{ items: unknown[] }>('/v1/tasks')).items).toEqual([]);
    await screenshot(page, 'new-task');
    await page.getByLabel('Upgrades in progress at once, at most').fill('10');
    await page.getByRole('button', { name: 'Create and start' }).click();
    await page.getByRole('heading', { name: 'console rollout' }).waitFor();
    const [task] = (await platform.api.get<{ items: { id: string; name: string }[] }>('/v1/tasks')).items;
    expect(task?.name).toBe('console rollout');
    if (!task) throw new Error('no task was created');
    await expect.poll(() => page.locator('.live').textContent(), { timeout: 10_000 }).toBe('live');

    // Moved by the event stream alone: the page is never reloaded.
    await tally(page, 'by-outcome', 'succeeded').getByText('1', { exact: true }).waitFor({ timeout: 90_000 });
    await tally(page, 'by-outcome', 'failed').getByText('1', { exact: true }).waitFor({ timeout: 90_000 });
    await tally(page, 'by-cause', STORAGE_CAUSE).waitFor();
    await tally(page, 'by-step', 'waiting-online').getByText('1', { exact: true }).waitFor();
    await page.getByRole('cell', { name: STORAGE_CAUSE }).waitFor({ timeout: 10_000 });
    await page.getByLabel('Outcome').selectOption('failed');
    await expect.poll(() => page.getByTestId('task-devices').locator('tbody tr').count()).toBe(1);
    await expect(page.getByTestId('task-devices').locator('tbody tr').textContent()).resolves.toContain(
      ids.refuses,
    );
    await screenshot(page, 'task');
    // On a phone the page folds into one column: nothing wider than the screen but the tables, which scroll.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect
      .poll(() => page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'))
      .toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });

    const state = page.getByTestId('task-state');
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => state.textContent(), { timeout: 30_000 }).toBe('paused');
    expect((await platform.api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => state.textContent(), { timeout: 30_000 }).toBe('running');
    // The last meter comes online: the task completes, and the page says so without a reload.
    await devices.find((device) => device.deviceId === ids.late)?.start();
    await expect.poll(() => state.textContent(), { timeout: 90_000 }).toBe('completed');
    await tally(page, 'by-outcome', 'succeeded').getByText('2', { exact: true }).waitFor();
    await expect.poll(() => page.locator('.live').textContent()).toBe('not live');
    await expect(page.getByRole('button', { name: /^(Pause|Resume|Cancel)$/ }).count()).resolves.toBe(0);

    await section(page, 'Tasks').click();
    await page.getByRole('link', { name: 'console rollout' }).waitFor();
    await screenshot(page, 'tasks');
    await section(page, 'Devices').click();
    await page.getByRole('link', { name: ids.refuses }).waitFor();

    // The failed meter's story: the seed's message, what it means and what to do, and where it happened.
    await page.getByRole('link', { name: ids.refuses }).click();
    const story = page.getByTestId('story');
    await story.waitFor({ timeout: 30_000 });
    const failure = page.getByTestId('failure');
    await expect(failure.locator('.failure-cause').textContent()).resolves.toBe(STORAGE_CAUSE);
    await expect(failure.textContent()).resolves.toContain('Check the storage space of the device.');
    const timeline = await story.locator('.timeline li').allTextContents();
    const downloading = timeline.findIndex((entry) => entry.includes('Downloading the package'));
    const reported = timeline.findIndex((entry) =>
      entry.includes(`Reported result code ${MqttResultCode.notEnoughSpace}`),
    );
    expect(downloading).toBeGreaterThan(0);
    expect(reported).toBeGreaterThan(downloading);
    expect(timeline.at(-1)).toContain(`Failed: ${STORAGE_CAUSE}`);
    await expect(
      page.getByRole('link', { name: 'Open in the Temporal UI' }).getAttribute('href'),
    ).resolves.toMatch(
      new RegExp(
        `^${TEMPORAL_UI}/namespaces/default/workflows/device-operation%3A${ids.refuses}/[0-9a-f-]{36}/history$`,
      ),
    );
    await screenshot(page, 'device-story');
    // The one error: Chromium's own line for the refused task (maxInProgress 0).
    expect(errors).toEqual([expect.stringMatching(/status of 400 .*\/v1\/tasks\)$/)]);
  }, 180_000);

  it('offers a read-only key no change, ends the session of a revoked key, and cancels a task', async () => {
    const readOnly = await platform.api.post<{ id: string; key: string }>('/v1/api-keys', {
      name: 'console viewer',
      scopes: ['read'],
    });
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, version: '3.0.0' });
    await platform.api.post('/v1/tasks', {
      name: 'watched rollout',
      packageId: pkg.id,
      target: { deviceIds: [ids.asleep] },
    });

    const viewer = await openConsole();
    await signIn(viewer.page, readOnly.key);
    await viewer.page.getByRole('link', { name: 'watched rollout' }).click();
    await viewer.page.getByTestId('task-state').getByText('running').waitFor({ timeout: 30_000 });
    await viewer.page.getByRole('link', { name: 'Export CSV' }).waitFor();
    await expect(viewer.page.getByRole('button', { name: /^(Pause|Resume|Cancel)$/ }).count()).resolves.toBe(
      0,
    );
    await section(viewer.page, 'Tasks').click();
    await viewer.page.getByRole('link', { name: 'watched rollout' }).waitFor();
    await expect(viewer.page.getByRole('link', { name: 'New task' }).count()).resolves.toBe(0);
    expect(viewer.errors).toEqual([]);

    const revoked = await fetch(`${platform.addresses.api}/v1/api-keys/${readOnly.id}`, {
      method: 'DELETE',
      headers: platform.apiHeaders,
    });
    expect(revoked.status).toBe(204);
    await section(viewer.page, 'Devices').click();
    await viewer.page.getByText('Your session ended, or its API key was revoked: sign in again.').waitFor();
    await viewer.page.getByLabel('API key').waitFor();

    const operator = await openConsole();
    await signIn(operator.page, platform.apiKey);
    await operator.page.getByRole('link', { name: 'watched rollout' }).click();
    operator.page.once('dialog', (dialog) => void dialog.accept());
    await operator.page.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => operator.page.getByTestId('task-state').textContent(), { timeout: 60_000 })
      .toBe('cancelled');
    expect(operator.errors).toEqual([]);
  }, 120_000);

  it('provisions devices one by one and from CSV, shows the secrets once, charts versions, disables and deletes', async () => {
    const { page, errors } = await openConsole();
    await signIn(page, platform.apiKey);
    await section(page, 'Devices').click();
    // The meters of the completed task: two at 2.0.0, the one that refused still at 1.0.0.
    await expect.poll(() => page.getByTestId('versions').textContent()).toContain('2.0.0: 2');

    await page.getByText('Provision devices').click();
    const one = page.getByRole('form', { name: 'Provision one device' });
    await one.getByLabel('Device ID').fill('console-new-1');
    await one.getByLabel('Product').fill(PRODUCT.product);
    await one.getByLabel('Model').fill(PRODUCT.model);
    await one.getByLabel(/^Tags/).fill('eu, ring=canary');
    await one.getByRole('button', { name: 'Provision' }).click();
    await page.getByTestId('secrets').getByText('console-new-1').waitFor();
    expect(await platform.api.get('/v1/devices/console-new-1')).toMatchObject({
      tags: ['eu', 'ring=canary'],
    });

    // A CSV with a bad row provisions nothing and names the row; fixed, all of it is provisioned.
    const csv = (protocol: string) =>
      Buffer.from(
        `id,protocol,product,model,tags\nconsole-csv-1,mqtt,${PRODUCT.product},${PRODUCT.model},eu\nconsole-csv-2,${protocol},${PRODUCT.product},${PRODUCT.model},eu;nb\n`,
      );
    const csvInput = page.getByLabel('CSV file');
    await csvInput.setInputFiles({ name: 'fleet.csv', mimeType: 'text/csv', buffer: csv('zigbee') });
    await page
      .getByRole('alert')
      .getByText(/row 3 \(protocol\)/)
      .waitFor();
    await expect(
      fetch(`${platform.addresses.api}/v1/devices/console-csv-1`, { headers: platform.apiHeaders }).then(
        (r) => r.status,
      ),
    ).resolves.toBe(404);
    await csvInput.setInputFiles({ name: 'fleet.csv', mimeType: 'text/csv', buffer: csv('lwm2m') });
    await page.getByTestId('secrets').getByText('console-csv-2').waitFor();
    await expect(page.getByTestId('secrets').locator('tbody tr').count()).resolves.toBe(2);
    await screenshot(page, 'devices');

    // An LwM2M device gets a new DTLS pre-shared key, shown once.
    await page.goto(`${platform.addresses.api}/#/devices/console-csv-2`);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'New pre-shared key' }).click();
    await page.getByTestId('secrets').getByRole('button', { name: 'Copy PSK of console-csv-2' }).waitFor();
    expect(await platform.api.get('/v1/devices/console-csv-2')).toMatchObject({
      pskIdentity: 'console-csv-2',
    });

    await page.goto(`${platform.addresses.api}/#/devices/console-new-1`);
    await page.getByRole('heading', { name: 'console-new-1' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    const deleted = await fetch(`${platform.addresses.api}/v1/devices/console-new-1`, {
      headers: platform.apiHeaders,
    });
    expect(deleted.status).toBe(404);
    // The one error: Chromium's own line for the refused CSV import.
    expect(errors).toEqual([expect.stringMatching(/status of 400 .*\/v1\/devices\/bulk\)$/)]);
  }, 120_000);

  it("lists a webhook's deliveries, the most recent first, and sends a failed one again", async () => {
    const webhook = await platform.api.post<{ id: string }>('/v1/webhooks', {
      url: 'https://receiver.example.test/ota-events',
      events: ['device.result'],
    });
    for (const deviceId of ['first', 'second']) {
      await enqueueWebhookEvent(platform.db, {
        type: 'device.result',
        id: `device.result:task_console:${deviceId}`,
        taskId: 'task_console',
        payload: { deviceId },
      });
    }
    await platform.db.query(
      `update webhook_deliveries set failed_at = now(), attempts = 9, last_error = 'HTTP 500'
        where event_id = 'device.result:task_console:first'`,
    );

    const { page, errors } = await openConsole();
    await signIn(page, platform.apiKey);
    await section(page, 'Webhooks').click();
    await page.getByText('https://receiver.example.test/ota-events').click();
    const rows = page.getByTestId(`webhook-${webhook.id}`).locator('tbody tr');
    await expect.poll(() => rows.first().textContent()).toContain('device.result:task_console:second');
    const failed = rows.filter({ hasText: 'device.result:task_console:first' });
    await expect(failed.textContent()).resolves.toContain('HTTP 500');
    await failed.getByRole('button', { name: 'Re-send' }).click();
    await expect.poll(() => failed.getByRole('button', { name: 'Re-send' }).count()).toBe(0);
    const { rows: stored } = await platform.db.query<{ failed_at: Date | null }>(
      `select failed_at from webhook_deliveries where event_id = 'device.result:task_console:first'`,
    );
    expect(stored).toEqual([{ failed_at: null }]);
    await screenshot(page, 'webhooks');
    expect(errors).toEqual([]);
  });
});
