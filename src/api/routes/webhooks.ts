import { Router } from 'express';
import type { Database } from '../../db/database';
import { newId } from '../../db/ids';
import { findTask } from '../../db/tasks';
import {
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  redeliver,
} from '../../db/webhooks';
import type { SecretBox } from '../../devices/secrets';
import { generateWebhookSecret } from '../../webhooks/signature';
import { conflict, notFound, unprocessable } from '../problem';
import {
  CreateWebhookRequest,
  DeliveryPageQuery,
  DeliveryParams,
  PageQuery,
  WebhookParams,
} from '../schemas';
import { parseInput } from '../validate';

/** Webhook subscriptions; the dispatcher (src/webhooks/dispatcher.ts) delivers their events. */
export function webhooksRouter(deps: { db: Database; secrets: SecretBox }): Router {
  const { db } = deps;
  const router = Router({ caseSensitive: true });

  const existingWebhook = async (id: string) => {
    const webhook = await findWebhook(db, id);
    if (!webhook) throw notFound(`webhook ${id} does not exist`);
    return webhook;
  };

  router.post('/', async (req, res) => {
    const request = parseInput(CreateWebhookRequest, req.body, 'body');
    if (request.taskId && !(await findTask(db, request.taskId))) {
      throw unprocessable(`task ${request.taskId} does not exist`, [
        { path: 'taskId', message: 'no such task' },
      ]);
    }
    const secret = request.secret ?? generateWebhookSecret();
    const webhook = await insertWebhook(db, {
      id: newId('whk'),
      url: request.url,
      events: request.events,
      taskId: request.taskId,
      secretCiphertext: deps.secrets.encrypt(secret),
    });
    res
      .status(201)
      .location(`/v1/webhooks/${webhook.id}`)
      .json({ ...webhook, secret });
  });

  router.get('/', async (req, res) => {
    res.json(await listWebhooks(db, parseInput(PageQuery, req.query, 'query')));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(WebhookParams, req.params, 'params');
    res.json(await existingWebhook(id));
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parseInput(WebhookParams, req.params, 'params');
    if (!(await deleteWebhook(db, id))) throw notFound(`webhook ${id} does not exist`);
    res.status(204).end();
  });

  router.get('/:id/deliveries', async (req, res) => {
    const { id } = parseInput(WebhookParams, req.params, 'params');
    const page = parseInput(DeliveryPageQuery, req.query, 'query');
    await existingWebhook(id);
    res.json(await listDeliveries(db, id, page));
  });

  /** A failed delivery sent again, from its first attempt, with the same event ID. */
  router.post('/:id/deliveries/:deliveryId/redeliver', async (req, res) => {
    const { id, deliveryId } = parseInput(DeliveryParams, req.params, 'params');
    const redelivery = await redeliver(db, id, deliveryId);
    if (!redelivery) throw notFound(`webhook ${id} has no delivery ${deliveryId}`);
    if (redelivery.before !== 'failed') {
      throw conflict(
        redelivery.before === 'pending'
          ? `delivery ${deliveryId} is still being tried`
          : `delivery ${deliveryId} was delivered; its receiver has it`,
      );
    }
    res.json(redelivery.delivery);
  });

  return router;
}
