import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(async () => {
  await api.reset();
  const devices = ['d1', 'd2', 'd3'].map((id) => ({ id, protocol: 'mqtt', product: 'meter', model: 'm1' }));
  await request(api.app).post('/v1/devices/bulk').set(api.auth).send({ devices }).expect(201);
});

const ids = (items: { id: string }[]) => items.map((item) => item.id);

async function createGroup(name = 'canary') {
  return (
    await request(api.app)
      .post('/v1/groups')
      .set(api.auth)
      .send({ name, description: 'first ring' })
      .expect(201)
  ).body as { id: string };
}

describe('groups', () => {
  it('creates, shows, lists and deletes a group; its devices stay', async () => {
    const created = await request(api.app)
      .post('/v1/groups')
      .set(api.auth)
      .send({ name: 'canary' })
      .expect(201);
    expect(created.body).toMatchObject({ name: 'canary', description: null, deviceCount: 0 });
    expect(created.headers.location).toBe(`/v1/groups/${created.body.id}`);
    const { id } = created.body;
    await request(api.app)
      .post(`/v1/groups/${id}/devices`)
      .set(api.auth)
      .send({ deviceIds: ['d1'] })
      .expect(200);
    expect((await request(api.app).get(`/v1/groups/${id}`).set(api.auth).expect(200)).body.deviceCount).toBe(
      1,
    );
    const list = await request(api.app).get('/v1/groups').set(api.auth).expect(200);
    expect(ids(list.body.items)).toEqual([id]);
    await request(api.app).delete(`/v1/groups/${id}`).set(api.auth).expect(204);
    await request(api.app).get(`/v1/groups/${id}`).set(api.auth).expect(404);
    await request(api.app).delete(`/v1/groups/${id}`).set(api.auth).expect(404);
    await request(api.app).get('/v1/devices/d1').set(api.auth).expect(200);
  });

  it('refuses a second group with the same name, naming it', async () => {
    await createGroup();
    const duplicate = await request(api.app)
      .post('/v1/groups')
      .set(api.auth)
      .send({ name: 'canary' })
      .expect(409);
    expect(duplicate.body.errors).toEqual([{ path: 'name', message: 'already taken' }]);
    const bad = await request(api.app)
      .post('/v1/groups')
      .set(api.auth)
      .send({ name: '', extra: 1 })
      .expect(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path).sort()).toEqual(['(root)', 'name']);
  });

  it('adds devices (again is harmless), pages them, and removes one', async () => {
    const { id } = await createGroup();
    const added = await request(api.app)
      .post(`/v1/groups/${id}/devices`)
      .set(api.auth)
      .send({ deviceIds: ['d3', 'd1', 'd2'] })
      .expect(200);
    expect(added.body.deviceCount).toBe(3);
    await request(api.app)
      .post(`/v1/groups/${id}/devices`)
      .set(api.auth)
      .send({ deviceIds: ['d1'] })
      .expect(200);
    const first = await request(api.app).get(`/v1/groups/${id}/devices?limit=2`).set(api.auth).expect(200);
    expect(ids(first.body.items)).toEqual(['d1', 'd2']);
    const second = await request(api.app)
      .get(`/v1/groups/${id}/devices?limit=2&cursor=${first.body.nextCursor}`)
      .set(api.auth)
      .expect(200);
    expect(ids(second.body.items)).toEqual(['d3']);
    expect(second.body.nextCursor).toBeUndefined();

    await request(api.app).delete(`/v1/groups/${id}/devices/d2`).set(api.auth).expect(204);
    await request(api.app).delete(`/v1/groups/${id}/devices/d2`).set(api.auth).expect(404);
    const rest = await request(api.app).get(`/v1/groups/${id}/devices`).set(api.auth).expect(200);
    expect(ids(rest.body.items)).toEqual(['d1', 'd3']);
  });

  it('adds none when some devices are unknown, naming their indexes', async () => {
    const { id } = await createGroup();
    const response = await request(api.app)
      .post(`/v1/groups/${id}/devices`)
      .set(api.auth)
      .send({ deviceIds: ['d1', 'ghost', 'd2', 'phantom'] })
      .expect(422);
    expect(response.body.errors).toEqual([
      { path: 'deviceIds.1', message: 'device ghost does not exist' },
      { path: 'deviceIds.3', message: 'device phantom does not exist' },
    ]);
    expect((await request(api.app).get(`/v1/groups/${id}`).set(api.auth)).body.deviceCount).toBe(0);
    const duplicate = await request(api.app)
      .post(`/v1/groups/${id}/devices`)
      .set(api.auth)
      .send({ deviceIds: ['d1', 'd1'] })
      .expect(400);
    expect(duplicate.body.errors[0].path).toBe('deviceIds.1');
    await request(api.app)
      .post('/v1/groups/grp_nope/devices')
      .set(api.auth)
      .send({ deviceIds: ['d1'] })
      .expect(404);
    await request(api.app).get('/v1/groups/grp_nope/devices').set(api.auth).expect(404);
  });
});
