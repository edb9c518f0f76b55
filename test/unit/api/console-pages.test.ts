import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

/** The console's page and assets at `/`: no key needed for them, this origin only, never framed. */
let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

describe('the console at /', () => {
  it('serves its page, script and stylesheet without a key, under a same-origin policy', async () => {
    const page = await request(api.app).get('/').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<script defer src="console.js"></script>');
    const policy = page.headers['content-security-policy'];
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');

    const script = await request(api.app).get('/console.js').expect(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // Bundled from the sources: the sign-in's call to the API is in it, the server's code is not.
    expect(script.text).toContain('/v1/session');
    expect(script.text).not.toContain('@temporalio');
    const styles = await request(api.app).get('/console.css').expect(200);
    expect(styles.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(styles.text).toContain('.uplot');
  }, 60_000);

  it('serves nothing else: other paths stay the API’s', async () => {
    for (const path of ['/index.html', '/console.js/', '/CONSOLE.JS', '/src/main.tsx']) {
      const answer = await request(api.app).get(path).expect(404);
      expect(answer.body.detail).toBe(`no route for GET ${path}`);
    }
    await request(api.app).get('/v1/tasks').expect(401);
  });
});
