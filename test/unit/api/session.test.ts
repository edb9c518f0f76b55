import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/api/auth';
import { insertConsoleSession } from '../../../src/db/console-sessions';
import { startTestApi, testApiKey } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;

beforeAll(async () => {
  api = await startTestApi();
}, 60_000);

afterAll(async () => {
  await api.dispose();
});

beforeEach(async () => {
  await api.reset();
});

/** Signs in with `key`: the session cookie (`name=value`) and the answer's body. */
async function signIn(key: string) {
  const answer = await request(api.app).post('/v1/session').send({ apiKey: key }).expect(201);
  const [setCookie = '', setMarker = ''] = answer.get('set-cookie') ?? [];
  return { setCookie, setMarker, cookie: setCookie.split(';')[0] ?? '', body: answer.body };
}

async function createKey(scopes: string[]): Promise<{ id: string; key: string }> {
  const answer = await request(api.app)
    .post('/v1/api-keys')
    .set(api.auth)
    .send({ name: 'operator', scopes })
    .expect(201);
  return answer.body;
}

const meter = { id: 'meter-1', protocol: 'mqtt', product: 'meter', model: 'm1' };

describe('console sessions', () => {
  it('exchange an API key for an HttpOnly, SameSite=Strict cookie that stands for the key', async () => {
    const { setCookie, setMarker, cookie, body } = await signIn(testApiKey);
    expect(setCookie).toMatch(/^otaflow_session=[\w-]{43}; Path=\/; Expires=.+; HttpOnly; SameSite=Strict$/);
    // Beside it, readable by the console's script and holding no secret: whether it is signed in.
    expect(setMarker).toMatch(/^otaflow_signed_in=1; Path=\/; Expires=.+; SameSite=Strict$/);
    expect(body).toEqual({
      keyId: 'bootstrap',
      scopes: ['read', 'write', 'admin'],
      csrfToken: expect.stringMatching(/^[\w-]{43}$/),
      expiresAt: expect.any(String),
    });
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(11.9 * 3_600_000);
    expect(JSON.stringify(body)).not.toContain(testApiKey);

    await request(api.app).get('/v1/devices').set('cookie', cookie).expect(200);
    const session = await request(api.app).get('/v1/session').set('cookie', cookie).expect(200);
    expect(session.body).toEqual(body);
    // The sign-in is in the audit log, under its key.
    await expect
      .poll(async () => (await request(api.app).get('/v1/audit-log').set(api.auth)).body.items)
      .toEqual([
        expect.objectContaining({ apiKeyId: 'bootstrap', method: 'POST', path: '/v1/session', status: 201 }),
      ]);
  });

  it('take a change only with the session’s CSRF token', async () => {
    const { cookie, body } = await signIn(testApiKey);
    const refused = await request(api.app).post('/v1/devices').set('cookie', cookie).send(meter).expect(403);
    expect(refused.body.detail).toBe(
      "a change made with a console session needs the session's X-CSRF-Token header",
    );
    await request(api.app)
      .post('/v1/devices')
      .set('cookie', cookie)
      .set('x-csrf-token', 'not-the-token-of-this-session-0123456789abc')
      .send(meter)
      .expect(403);
    await request(api.app)
      .post('/v1/devices')
      .set('cookie', cookie)
      .set('x-csrf-token', body.csrfToken)
      .send(meter)
      .expect(201);
  });

  it('have their key’s scopes, and end when the key is revoked', async () => {
    const reader = await createKey(['read']);
    const { cookie, body } = await signIn(reader.key);
    expect(body).toMatchObject({ keyId: reader.id, scopes: ['read'] });
    await request(api.app).get('/v1/devices').set('cookie', cookie).expect(200);
    const refused = await request(api.app)
      .post('/v1/devices')
      .set('cookie', cookie)
      .set('x-csrf-token', body.csrfToken)
      .send(meter)
      .expect(403);
    expect(refused.body.detail).toBe('this API key lacks the write scope');

    await request(api.app).delete(`/v1/api-keys/${reader.id}`).set(api.auth).expect(204);
    const revoked = await request(api.app).get('/v1/devices').set('cookie', cookie).expect(401);
    expect(revoked.body.detail).toBe('this API key has been revoked');
    // The browser forgets the session: its next page load shows the sign-in form.
    expect(revoked.get('set-cookie')).toEqual([
      expect.stringMatching(/^otaflow_session=; Path=\/; Expires=Thu, 01 Jan 1970/),
      expect.stringMatching(/^otaflow_signed_in=; Path=\/; Expires=Thu, 01 Jan 1970/),
    ]);
  });

  it('end at sign-out, their cookie cleared', async () => {
    const { cookie, body } = await signIn(testApiKey);
    await request(api.app).delete('/v1/session').set('cookie', cookie).expect(403);
    const signedOut = await request(api.app)
      .delete('/v1/session')
      .set('cookie', cookie)
      .set('x-csrf-token', body.csrfToken)
      .expect(204);
    expect(signedOut.get('set-cookie')).toEqual([
      expect.stringMatching(/^otaflow_session=; Path=\/; Expires=Thu, 01 Jan 1970/),
      expect.stringMatching(/^otaflow_signed_in=; Path=\/; Expires=Thu, 01 Jan 1970/),
    ]);
    const ended = await request(api.app).get('/v1/devices').set('cookie', cookie).expect(401);
    expect(ended.body.detail).toBe('the console session has ended: sign in again');
  });

  it('end when their time is up', async () => {
    const now = new Date();
    await insertConsoleSession(api.db, {
      idHash: hashApiKey('an-old-session'),
      keyHash: hashApiKey(testApiKey),
      csrfToken: 'token',
      createdAt: new Date(now.getTime() - 13 * 3_600_000),
      expiresAt: new Date(now.getTime() - 3_600_000),
    });
    const expired = await request(api.app).get('/v1/devices').set('cookie', 'otaflow_session=an-old-session');
    expect(expired.status).toBe(401);
  });

  it('are not opened for an unknown key or a malformed body, and set no cookie then', async () => {
    const unknown = await request(api.app)
      .post('/v1/session')
      .send({ apiKey: 'ofk_this-key-was-never-created-0123456789' })
      .expect(401);
    expect(unknown.body.detail).toBe('unknown API key');
    expect(unknown.get('set-cookie')).toBeUndefined();
    const malformed = await request(api.app).post('/v1/session').send({ key: testApiKey }).expect(400);
    expect(malformed.body.errors.map((error: { path: string }) => error.path)).toContain('apiKey');
    expect(malformed.get('set-cookie')).toBeUndefined();
  });

  it('say so when a request came with an API key instead', async () => {
    const answer = await request(api.app).get('/v1/session').set(api.auth).expect(404);
    expect(answer.body.detail).toBe('this request came with an API key, not a console session');
  });
});
