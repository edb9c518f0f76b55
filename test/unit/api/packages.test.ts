import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi({ maxPackageBytes: 64 * 1024 });
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const fields = { name: 'meter firmware', version: '2.0.0', kind: 'firmware', product: 'meter', model: 'm1' };
const content = Buffer.from('firmware image bytes '.repeat(100));

/** `file: null` sends no file part. */
function upload(values: Record<string, string | string[]> = fields, file: Buffer | null = content) {
  const req = request(api.app).post('/v1/packages').set(api.auth);
  for (const [name, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) req.field(name, item);
  }
  return file === null ? req : req.attach('file', file, 'fw.bin');
}

async function packageCount() {
  const { rows } = await api.db.query<{ count: number }>('select count(*)::int as count from packages');
  return rows[0]?.count;
}

describe('POST /v1/packages', () => {
  it('stores the file and answers with its SHA-256 and size', async () => {
    const response = await upload({ ...fields, supportedSourceVersions: ['1.0.0,1.1.0', '1.2.0'] }).expect(
      201,
    );
    expect(response.body).toMatchObject({
      ...fields,
      fileName: 'fw.bin',
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      supportedSourceVersions: ['1.0.0', '1.1.0', '1.2.0'],
    });
    expect(response.body).not.toHaveProperty('objectKey');
    expect([...api.packageStore.objects.values()]).toEqual([content]);
    await request(api.app).get(`/v1/packages/${response.body.id}`).set(api.auth).expect(200);
    const list = await request(api.app).get('/v1/packages').set(api.auth).expect(200);
    expect(list.body.items.map((pkg: { id: string }) => pkg.id)).toEqual([response.body.id]);
  });

  it('names missing and invalid fields, and stores nothing', async () => {
    const response = await upload({
      name: 'x',
      version: 'has space',
      kind: 'bootloader',
      product: 'meter',
    }).expect(400);
    const paths = response.body.errors.map((error: { path: string }) => error.path);
    expect(paths).toEqual(expect.arrayContaining(['version', 'kind', 'model']));
    expect(api.packageStore.objects.size).toBe(0);
    expect(await packageCount()).toBe(0);
  });

  it('says fields must precede the file when the file comes first', async () => {
    const response = await request(api.app)
      .post('/v1/packages')
      .set(api.auth)
      .attach('file', content, 'fw.bin')
      .field('name', 'x')
      .expect(400);
    expect(response.body.detail).toMatch(/before the file part/);
    expect(response.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'version', message: expect.stringMatching(/precede/) }),
      ]),
    );
    expect(api.packageStore.objects.size).toBe(0);
  });

  it('refuses an empty file, a missing file, and a second file', async () => {
    const empty = await upload(fields, Buffer.alloc(0)).expect(400);
    expect(empty.body.errors).toEqual([{ path: 'file', message: 'empty' }]);
    const missing = await upload(fields, null).expect(400);
    expect(missing.body.errors).toEqual([{ path: 'file', message: 'required' }]);
    await upload(fields).attach('file', content, 'again.bin').expect(400);
    expect(api.packageStore.objects.size).toBe(0);
    expect(await packageCount()).toBe(0);
  });

  it('refuses a file over the size limit with 413', async () => {
    const response = await upload(fields, Buffer.alloc(64 * 1024 + 1, 1)).expect(413);
    expect(response.body.detail).toMatch(/65536 bytes/);
    expect(api.packageStore.objects.size).toBe(0);
    expect(await packageCount()).toBe(0);
  });

  it('refuses a second package with the same version for the same product, model and kind', async () => {
    await upload().expect(201);
    const response = await upload().expect(409);
    expect(response.body.errors[0].path).toBe('version');
    expect(api.packageStore.objects.size).toBe(1);
  });

  it('refuses a body that is not multipart', async () => {
    await request(api.app).post('/v1/packages').set(api.auth).send(fields).expect(415);
  });

  it('answers 404 for an unknown package', async () => {
    await request(api.app).get('/v1/packages/pkg_nope').set(api.auth).expect(404);
  });
});
