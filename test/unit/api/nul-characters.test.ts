import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

/** PostgreSQL text cannot store U+0000: the API refuses it with a 400 naming the field, never a 500. */
describe('NUL characters in input', () => {
  it('refuses one in a JSON body, naming the field, and creates nothing', async () => {
    const response = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'dev-1', protocol: 'mqtt', product: 'meter\u0000', model: 'm1' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ path: 'product', message: 'contains a NUL character (U+0000)' }]);
    expect((await request(api.app).get('/v1/devices').set(api.auth)).body.items).toEqual([]);
  });

  it('refuses one nested in an array', async () => {
    const response = await request(api.app)
      .post('/v1/tasks')
      .set(api.auth)
      .send({ packageId: 'pkg_1', target: { deviceIds: ['ok', 'bad\u0000'] } });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { path: 'target.deviceIds.1', message: 'contains a NUL character (U+0000)' },
    ]);
  });

  it('refuses one in a query string or a path', async () => {
    const query = await request(api.app).get('/v1/devices?tag=a%00b').set(api.auth);
    const path = await request(api.app).get('/v1/tasks/task%00x').set(api.auth);

    expect(query.status).toBe(400);
    expect(query.body.errors[0].path).toBe('tag');
    expect(path.status).toBe(400);
    expect(path.body.errors[0].path).toBe('id');
  });

  it('refuses one in a package upload field', async () => {
    const response = await request(api.app)
      .post('/v1/packages')
      .set(api.auth)
      .field('name', 'fw\u0000')
      .field('version', '1.0.0')
      .field('kind', 'firmware')
      .field('product', 'meter')
      .field('model', 'm1')
      .attach('file', Buffer.from('firmware'), 'fw.bin');

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ path: 'name', message: 'contains a NUL character (U+0000)' }]);
  });
});
