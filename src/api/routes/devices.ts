import { Router } from 'express';
import type { Database } from '../../db/database';
import { findDevice, insertDevice, listDevices } from '../../db/devices';
import { generateDeviceSecret, type SecretBox } from '../../devices/secrets';
import { conflict, notFound } from '../problem';
import { CreateDeviceRequest, DeviceParams, PageQuery } from '../schemas';
import { parseInput } from '../validate';

export function devicesRouter(deps: { db: Database; secrets: SecretBox }): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const request = parseInput(CreateDeviceRequest, req.body, 'body');
    const secret = request.secret ?? generateDeviceSecret();
    const device = await insertDevice(deps.db, {
      id: request.id,
      protocol: request.protocol,
      product: request.product,
      model: request.model,
      secretCiphertext: deps.secrets.encrypt(secret),
    });
    if (!device)
      throw conflict(`device ${request.id} exists already`, [{ path: 'id', message: 'already taken' }]);
    res
      .status(201)
      .location(`/v1/devices/${encodeURIComponent(device.id)}`)
      .json({ ...device, secret });
  });

  router.get('/', async (req, res) => {
    res.json(await listDevices(deps.db, parseInput(PageQuery, req.query, 'query')));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(DeviceParams, req.params, 'params');
    const device = await findDevice(deps.db, id);
    if (!device) throw notFound(`device ${id} does not exist`);
    res.json(device);
  });

  return router;
}
