import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi({ requestsPerKeyPerMinute: 20, refusedCredentialsPerAddressPerMinute: 5 });
}, 60_000);
afterAll(() => api.dispose());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API rate limits', () => {
  it('answers 429 with Retry-After to a key over its requests per minute, and not to another key', async () => {
    const { body: busy } = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: 'busy', scopes: ['read'] })
      .expect(201);
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++)
      statuses.push((await request(api.app).get('/v1/devices').set(bearer(busy.key))).status);
    expect(statuses.slice(0, 20).every((status) => status === 200)).toBe(true);
    const refused = await request(api.app).get('/v1/devices').set(bearer(busy.key)).expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.body.detail).toMatch(/^this API key made over 20 requests in a minute; retry in \d+ s$/);
    expect(statuses[20]).toBe(429);
    await request(api.app).get('/v1/devices').set(api.auth).expect(200);
  });

  it('refuses an address that keeps guessing keys or download tokens, before it checks the next one', async () => {
    for (let i = 0; i < 3; i++)
      await request(api.app)
        .get('/v1/devices')
        .set(bearer(`ofk_guess-${i}`))
        .expect(401);
    for (let i = 0; i < 2; i++) {
      await request(api.app)
        .get('/ota/packages/pkg_x/file')
        .set(bearer(`guessed-token-${i}`))
        .expect((res) => {
          expect([401, 403]).toContain(res.status);
        });
    }
    const refused = await request(api.app).get('/v1/devices').set(api.auth).expect(429);
    expect(refused.body.detail).toMatch(/over 5 refused credentials from this address in a minute/);
    await request(api.app).get('/ota/packages/pkg_x/file').set(bearer('another-guess')).expect(429);
  });
});
