import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Router } from 'express';
import type { z } from 'zod';
import { deviceDisabledSignal, deviceOperationWorkflowId } from '../../../workflows/definitions';
import { type FailureCause, failureCauseHelp } from '../../../workflows/failure-causes';
import type { Database } from '../../db/database';
import {
  deleteDevice,
  findDevice,
  findDevices,
  insertDevice,
  insertDevices,
  listDevices,
  type NewDevice,
  PskIdentityTaken,
  revokeDeviceTokens,
  setDeviceDisabled,
  setDevicePsk,
  setDeviceSecret,
  setDeviceTags,
} from '../../db/devices';
import type { DeviceConnections } from '../../devices/device-connections';
import { generateDeviceSecret, type SecretBox } from '../../devices/secrets';
import type { DeviceOperation, DeviceStories } from '../../temporal/device-story';
import { conflict, type FieldError, notFound } from '../problem';
import {
  BulkCreateDevicesRequest,
  CreateDeviceRequest,
  DeviceListQuery,
  DeviceOperationParams,
  DeviceOperationQuery,
  DeviceParams,
  RotateDeviceSecretRequest,
  SetDevicePskRequest,
  UpdateDeviceRequest,
} from '../schemas';
import { parseInput } from '../validate';
import type { TaskWorkflows } from './tasks';

export function devicesRouter(deps: {
  db: Database;
  secrets: SecretBox;
  temporal: TaskWorkflows;
  /** The embedded broker's; absent with an external broker, whose connections stay until they end. */
  deviceConnections?: DeviceConnections;
  /** What an LwM2M device created without `lwm2mSecurity` gets: 'psk' when LwM2M over DTLS is on. */
  defaultLwm2mSecurity: 'psk' | 'none';
  /** Its operations and their timelines, read from Temporal. */
  stories: DeviceStories;
  /** Where a run is shown in the Temporal UI; absent when its address is not known. */
  temporalRunUrl?: (workflowId: string, runId: string) => string;
}): Router {
  const { db, secrets } = deps;
  const router = Router({ caseSensitive: true });

  /** The device to insert, and the secrets shown this once. */
  function provisioning(request: z.infer<typeof CreateDeviceRequest>): {
    device: NewDevice;
    shown: { secret: string; pskKey?: string };
  } {
    const secret = request.secret ?? generateDeviceSecret();
    const pskKey = pskKeyOf(request, deps.defaultLwm2mSecurity);
    const device: NewDevice = {
      id: request.id,
      protocol: request.protocol,
      product: request.product,
      model: request.model,
      secretCiphertext: secrets.encrypt(secret),
      tags: request.tags,
      psk:
        pskKey === undefined
          ? undefined
          : { identity: request.pskIdentity ?? request.id, keyCiphertext: secrets.encrypt(pskKey) },
    };
    return { device, shown: { secret, pskKey } };
  }

  async function inserting<T>(insert: () => Promise<T>): Promise<T> {
    try {
      return await insert();
    } catch (error) {
      if (!(error instanceof PskIdentityTaken)) throw error;
      throw conflict('a PSK identity is taken by another device; nothing was created', [
        { path: 'pskIdentity', message: 'already taken' },
      ]);
    }
  }

  router.post('/', async (req, res) => {
    const request = parseInput(CreateDeviceRequest, req.body, 'body');
    const { device: newDevice, shown } = provisioning(request);
    const device = await inserting(() => insertDevice(db, newDevice));
    if (!device)
      throw conflict(`device ${request.id} exists already`, [{ path: 'id', message: 'already taken' }]);
    res
      .status(201)
      .location(`/v1/devices/${encodeURIComponent(device.id)}`)
      .json({ ...device, ...shown });
  });

  /** All or nothing: one device that cannot be created refuses the whole request. */
  router.post('/bulk', async (req, res) => {
    const { devices: requested } = parseInput(BulkCreateDevicesRequest, req.body, 'body');
    const existing = new Set(
      (
        await findDevices(
          db,
          requested.map((device) => device.id),
        )
      ).map((d) => d.id),
    );
    const taken: FieldError[] = requested.flatMap((device, index) =>
      existing.has(device.id)
        ? [{ path: `devices.${index}.id`, message: `device ${device.id} exists already` }]
        : [],
    );
    if (taken.length > 0)
      throw conflict(`${taken.length} device ID(s) exist already; nothing was created`, taken);
    const provisioned = requested.map(provisioning);
    const created = await inserting(() =>
      db.transaction(async (tx) => {
        const inserted = await insertDevices(
          tx,
          provisioned.map(({ device }) => device),
        );
        // Another request created one of them since the check above: roll back, create nothing.
        if (!inserted) throw conflict('some of these device IDs were taken meanwhile; nothing was created');
        return inserted;
      }),
    );
    res
      .status(201)
      .json({ items: created.map((device, index) => ({ ...device, ...provisioned[index]?.shown })) });
  });

  router.get('/', async (req, res) => {
    const { limit, cursor, ...filter } = parseInput(DeviceListQuery, req.query, 'query');
    res.json(await listDevices(db, { limit, cursor }, filter));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const device = await findDevice(db, id);
    if (!device) throw notFound(`device ${id} does not exist`);
    res.json(device);
  });

  const withRunUrl = (operation: DeviceOperation) => ({
    ...operation,
    temporalUiUrl: deps.temporalRunUrl?.(operation.workflowId, operation.runId) ?? null,
  });

  router.get('/:id/operations', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const page = parseInput(DeviceOperationQuery, req.query, 'query');
    if (!(await findDevice(db, id))) throw notFound(`device ${id} does not exist`);
    const operations = await deps.stories.operations(id, page);
    res.json({ ...operations, items: operations.items.map(withRunUrl) });
  });

  router.get('/:id/operations/:runId', async (req, res) => {
    const { id, runId } = parseInput(DeviceOperationParams, req.params, 'params');
    if (!(await findDevice(db, id))) throw notFound(`device ${id} does not exist`);
    const story = await deps.stories.story(id, runId);
    if (!story) throw notFound(`device ${id} has no operation run ${runId}`);
    const cause = story.result?.outcome === 'failed' ? story.result.cause : undefined;
    res.json({
      operation: withRunUrl(story.operation),
      timeline: story.timeline,
      failure: cause ? { cause, ...failureCauseHelp[cause as FailureCause] } : null,
    });
  });

  /** The old secret stops working at the device's next login; the new one is shown this once. */
  router.post('/:id/secret', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const request = parseInput(RotateDeviceSecretRequest, req.body ?? {}, 'body');
    const secret = request.secret ?? generateDeviceSecret();
    const device = await setDeviceSecret(db, id, secrets.encrypt(secret));
    if (!device) throw notFound(`device ${id} does not exist`);
    deps.deviceConnections?.disconnect(id);
    res.json({ ...device, secret });
  });

  /**
   * Gives an LwM2M device a new pre-shared key (and identity): its DTLS session ends, and it registers
   * again under the new key, over DTLS only from then on. The key is shown this once.
   */
  router.post('/:id/psk', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const request = parseInput(SetDevicePskRequest, req.body ?? {}, 'body');
    const current = await findDevice(db, id);
    if (!current) throw notFound(`device ${id} does not exist`);
    if (current.protocol !== 'lwm2m') {
      throw conflict(`device ${id} speaks MQTT: pre-shared keys are for LwM2M devices`, [
        { path: 'id', message: 'not an LwM2M device' },
      ]);
    }
    const pskKey = request.pskKey?.toLowerCase() ?? randomBytes(16).toString('hex');
    const identity = request.pskIdentity ?? current.pskIdentity ?? id;
    // The old session ends under the old identity, before the identity may change.
    await deps.deviceConnections?.disconnect(id);
    const device = await inserting(() =>
      setDevicePsk(db, id, { identity, keyCiphertext: secrets.encrypt(pskKey) }),
    );
    if (!device) throw notFound(`device ${id} does not exist`);
    res.json({ ...device, pskKey });
  });

  /**
   * A disabled device may not log in (MQTT) or register (LwM2M); its running upgrade is cancelled and
   * ends with the cause "Device disabled".
   */
  router.post('/:id/disable', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const device = await setDeviceDisabled(db, id, true);
    if (!device) throw notFound(`device ${id} does not exist`);
    deps.deviceConnections?.disconnect(id);
    const upgrade = deps.temporal.workflow.getHandle(deviceOperationWorkflowId(id));
    try {
      await upgrade.signal(deviceDisabledSignal);
      await upgrade.cancel();
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    res.json(device);
  });

  /** Every download token issued to the device until now is refused; the next delivery issues a new one. */
  router.post('/:id/revoke-tokens', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    if (!(await revokeDeviceTokens(db, id))) throw notFound(`device ${id} does not exist`);
    res.status(204).end();
  });

  router.post('/:id/enable', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const device = await setDeviceDisabled(db, id, false);
    if (!device) throw notFound(`device ${id} does not exist`);
    res.json(device);
  });

  /** Only a disabled device that no task is still upgrading: see `deleteDevice`. */
  router.delete('/:id', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const deletion = await deleteDevice(db, id);
    if (deletion === 'not found') throw notFound(`device ${id} does not exist`);
    if (deletion === 'enabled') {
      throw conflict(`disable device ${id} before deleting it`, [
        { path: 'id', message: 'enabled: POST /v1/devices/{id}/disable first (it ends its running upgrade)' },
      ]);
    }
    if (deletion !== 'deleted') {
      throw conflict(`tasks still upgrade device ${id}: ${deletion.unfinishedTasks.join(', ')}`, [
        { path: 'id', message: 'its upgrades in these tasks have not ended yet' },
      ]);
    }
    res.status(204).end();
  });

  router.patch('/:id', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const { tags } = parseInput(UpdateDeviceRequest, req.body, 'body');
    const device = await setDeviceTags(db, id, tags);
    if (!device) throw notFound(`device ${id} does not exist`);
    res.json(device);
  });

  return router;
}

/** The hex pre-shared key of an LwM2M device that gets one (given, or 16 random bytes). */
function pskKeyOf(
  request: z.infer<typeof CreateDeviceRequest>,
  defaultSecurity: 'psk' | 'none',
): string | undefined {
  if (request.protocol !== 'lwm2m') return undefined;
  const keyed = request.pskKey !== undefined || request.pskIdentity !== undefined;
  const security = request.lwm2mSecurity ?? (keyed ? 'psk' : defaultSecurity);
  if (security === 'none') return undefined;
  return request.pskKey?.toLowerCase() ?? randomBytes(16).toString('hex');
}
