import { createApi } from '../../functions/api';
import type { Deps } from '../../shared/deps';
import { buildConsole, consoleAssets, ipsoNames } from '../../local/console-assets';

/** The web console's files: bundled from console/ at start, served by the API's app without the token. */

// The console routes touch no port.
const noDeps = {} as Deps;
const files = { html: '<!doctype html><p>page</p>', js: 'console.log(1)', css: 'body{}' };

test('GET / and /console/* serve the page, script and style sheet, even when the API needs a token', async () => {
  const app = createApi(noDeps, { token: 's3cret', console: async () => files });
  const page = await app.request('/');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await page.text()).toBe(files.html);
  const js = await app.request('/console/app.js');
  expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  expect(await js.text()).toBe(files.js);
  const css = await app.request('/console/app.css');
  expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  // So does the API's description, which the console links to; data still needs the token.
  expect((await app.request('/openapi.json')).status).toBe(200);
  expect((await app.request('/devices')).status).toBe(401);
  expect((await app.request('/console/other.js')).status).toBe(401);
});

test('without the console option (the Lambda API), GET / is no route', async () => {
  const app = createApi(noDeps);
  expect(await (await app.request('/')).json()).toEqual({ error: 'no route GET /' });
});

test('the IPSO names table comes from lwm2m-id: objects, their own resources, the shared ones', async () => {
  const names = await ipsoNames();
  expect(names.oids['3303']).toBe('temperature');
  expect(names.oids['3311']).toBe('lightCtrl');
  expect(names.specific['3']['4']).toBe('reboot');
  expect(names.unique['5700']).toBe('sensorValue');
});

test('the console bundles in memory with Preact and the names inside, once', async () => {
  const assets = await buildConsole();
  expect(assets.html).toContain('<script src="/console/app.js">');
  expect(assets.js).toContain('sensorValue');
  expect(assets.js).not.toMatch(/\bimport\s*\(|require\(/);
  expect(assets.css).toContain('.flash');
  const cached = consoleAssets();
  expect(await cached()).toBe(await cached());
});
