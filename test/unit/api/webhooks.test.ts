import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enqueueWebhookEvent } from '../../../src/webhooks/outbox';
import { startTestApi, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const subscription = {
  url: 'https://app.example.com/ota-events',
  events: ['device.result', 'task.completed'],
};

describe('/v1/webhooks', () => {
  it('creates a webhook with a generated secret shown once and stored encrypted', async () => {
    const created = await request(api.app).post('/v1/webhooks').set(api.auth).send(subscription).expect(201);
    expect(created.body).toMatchObject({ ...subscription, taskId: null });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.headers.location).toBe(`/v1/webhooks/${created.body.id}`);
    const { rows } = await api.db.query<{ secret_ciphertext: string }>(
      'select secret_ciphertext from webhooks',
    );
    expect(rows[0]?.secret_ciphertext).not.toContain(created.body.secret.slice(6));
    expect(testSecrets.decrypt(rows[0]?.secret_ciphertext ?? '')).toBe(created.body.secret);

    const shown = await request(api.app).get(`/v1/webhooks/${created.body.id}`).set(api.auth).expect(200);
    expect(shown.body).not.toHaveProperty('secret');
    const list = await request(api.app).get('/v1/webhooks').set(api.auth).expect(200);
    expect(list.body.items).toEqual([shown.body]);
  });

  it('keeps a given secret, and names bad fields', async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const created = await request(api.app)
      .post('/v1/webhooks')
      .set(api.auth)
      .send({ ...subscription, secret })
      .expect(201);
    expect(created.body.secret).toBe(secret);
    const bad = await request(api.app)
      .post('/v1/webhooks')
      .set(api.auth)
      .send({
        url: 'ftp://app.example.com',
        events: ['device.result', 'device.online', 'device.result'],
        secret: 'x',
      })
      .expect(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      'events.1',
      'secret',
      'url',
    ]);
    const none = await request(api.app)
      .post('/v1/webhooks')
      .set(api.auth)
      .send({ ...subscription, events: [] });
    expect(none.status).toBe(400);
    expect(none.body.errors[0].path).toBe('events');
  });

  it('refuses an unknown task with 422', async () => {
    const response = await request(api.app)
      .post('/v1/webhooks')
      .set(api.auth)
      .send({ ...subscription, taskId: 'task_nope' })
      .expect(422);
    expect(response.body.errors).toEqual([{ path: 'taskId', message: 'no such task' }]);
  });

  it('lists deliveries with status and attempts, pages them, and deletes the webhook with them', async () => {
    const { body: webhook } = await request(api.app).post('/v1/webhooks').set(api.auth).send(subscription);
    for (const deviceId of ['d1', 'd2', 'd3']) {
      await enqueueWebhookEvent(api.db, {
        type: 'device.result',
        id: `device.result:task_1:${deviceId}`,
        taskId: 'task_1',
        payload: { deviceId },
      });
    }
    await api.db.query(
      `update webhook_deliveries set attempts = 3, last_status = 503, last_error = 'HTTP 503' where event_id like '%d2'`,
    );
    await api.db.query(
      `update webhook_deliveries set delivered_at = now(), attempts = 1 where event_id like '%d1'`,
    );
    const first = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries?limit=2`)
      .set(api.auth)
      .expect(200);
    expect(first.body.items).toEqual([
      expect.objectContaining({
        eventId: 'device.result:task_1:d1',
        status: 'delivered',
        attempts: 1,
        nextAttemptAt: null,
      }),
      expect.objectContaining({ status: 'pending', attempts: 3, lastStatus: 503, lastError: 'HTTP 503' }),
    ]);
    const second = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`)
      .set(api.auth)
      .expect(200);
    expect(second.body.items.map((delivery: { eventId: string }) => delivery.eventId)).toEqual([
      'device.result:task_1:d3',
    ]);
    const newest = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries?limit=2&order=newest`)
      .set(api.auth)
      .expect(200);
    expect(newest.body.items.map((delivery: { eventId: string }) => delivery.eventId)).toEqual([
      'device.result:task_1:d3',
      'device.result:task_1:d2',
    ]);
    const oldestOfNewest = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries?limit=2&order=newest&cursor=${newest.body.nextCursor}`)
      .set(api.auth)
      .expect(200);
    expect(oldestOfNewest.body.items.map((delivery: { eventId: string }) => delivery.eventId)).toEqual([
      'device.result:task_1:d1',
    ]);
    const badCursor = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries?cursor=abc`)
      .set(api.auth);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors[0].path).toBe('cursor');

    await request(api.app).delete(`/v1/webhooks/${webhook.id}`).set(api.auth).expect(204);
    await request(api.app).get(`/v1/webhooks/${webhook.id}`).set(api.auth).expect(404);
    await request(api.app).get(`/v1/webhooks/${webhook.id}/deliveries`).set(api.auth).expect(404);
    const { rows } = await api.db.query('select 1 from webhook_deliveries');
    expect(rows).toEqual([]);
  });

  it('sends a failed delivery again from its first attempt, and refuses one pending or delivered', async () => {
    const { body: webhook } = await request(api.app).post('/v1/webhooks').set(api.auth).send(subscription);
    for (const deviceId of ['failed', 'pending', 'delivered']) {
      await enqueueWebhookEvent(api.db, {
        type: 'device.result',
        id: `device.result:task_1:${deviceId}`,
        taskId: 'task_1',
        payload: { deviceId },
      });
    }
    await api.db.query(
      `update webhook_deliveries set attempts = 8, failed_at = now(), last_status = 500, last_error = 'HTTP 500'
        where event_id like '%:failed'`,
    );
    await api.db.query(
      `update webhook_deliveries set delivered_at = now() where event_id like '%:delivered'`,
    );
    const { body: deliveries } = await request(api.app)
      .get(`/v1/webhooks/${webhook.id}/deliveries`)
      .set(api.auth);
    const [failed, pending, delivered] = deliveries.items as { id: string }[];

    const again = await request(api.app)
      .post(`/v1/webhooks/${webhook.id}/deliveries/${failed?.id}/redeliver`)
      .set(api.auth)
      .expect(200);
    expect(again.body).toMatchObject({
      eventId: 'device.result:task_1:failed',
      status: 'pending',
      attempts: 0,
      failedAt: null,
      lastError: 'HTTP 500',
    });
    expect(Date.parse(again.body.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1000);

    const stillTried = await request(api.app)
      .post(`/v1/webhooks/${webhook.id}/deliveries/${pending?.id}/redeliver`)
      .set(api.auth)
      .expect(409);
    expect(stillTried.body.detail).toBe(`delivery ${pending?.id} is still being tried`);
    const got = await request(api.app)
      .post(`/v1/webhooks/${webhook.id}/deliveries/${delivered?.id}/redeliver`)
      .set(api.auth)
      .expect(409);
    expect(got.body.detail).toBe(`delivery ${delivered?.id} was delivered; its receiver has it`);
    const unknown = await request(api.app)
      .post(`/v1/webhooks/${webhook.id}/deliveries/999999/redeliver`)
      .set(api.auth)
      .expect(404);
    expect(unknown.body.detail).toBe(`webhook ${webhook.id} has no delivery 999999`);
    await request(api.app)
      .post(`/v1/webhooks/${webhook.id}/deliveries/first/redeliver`)
      .set(api.auth)
      .expect(400);
  });
});
