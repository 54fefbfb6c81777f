import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { http, nodeCall, startWorld, type E2eNode, type E2eWorld } from '../helpers/mqtt-node';
import { createApi } from '../../functions/api';
import { startIamApi } from '../helpers/iam-api';
import { eventually } from '../helpers/poll';
import { cleanEnv, ROOT, runCommand } from '../helpers/server-process';

/**
 * The web console in a real browser (Debian's chromium driven by playwright-core) against the
 * real local stack and real mqtt-node devices: the fleet list follows registrations, values
 * follow notifications, and commands from the page reach the device.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const WAIT_MS = 10_000;

let browser: Browser;
let world: E2eWorld;
let dev: E2eNode;

jest.setTimeout(60_000);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (bash .ci/run installs it), or set CHROMIUM_PATH`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  world = await startWorld();
  dev = await world.node('console-1');
});

afterAll(async () => {
  await browser?.close();
  await world?.close();
});

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(url, { timeout: WAIT_MS });
  return page;
}

const row = (page: Page, id: string) => page.locator(`a.row.device[data-client-id="${id}"]`);
const resource = (page: Page, path: string) => page.locator(`tr[data-path="${path}"]`);

test('the fleet list shows every device and one that registers after the page loaded', async () => {
  const page = await openPage(world.stack.apiUrl);
  try {
    await row(page, 'console-1').waitFor();
    await expect(row(page, 'console-1').textContent()).resolves.toMatch(/online.*127\.0\.0\.1/);
    await expect(row(page, 'console-1').textContent()).resolves.toMatch(/temperature/);
    // lifetime 600 s, just registered
    await expect(row(page, 'console-1').textContent()).resolves.toMatch(/(9 min \d+|10 min 0) s/);
    await page.locator('.stream.live').waitFor();

    await world.node('console-2');
    await row(page, 'console-2').waitFor();
    await expect(page.locator('[data-count="all"]').textContent()).resolves.toBe('2');

    // The filter by id leaves one row.
    await page.getByLabel('Filter by client id').fill('console-2');
    await row(page, 'console-1').waitFor({ state: 'detached' });
    await expect(row(page, 'console-2').count()).resolves.toBe(1);
  } finally {
    await page.close();
  }
});

test('device view: a notify changes the shown value in place; Read shows 205 and the value; Write shows 204 (405 where refused); a live chart', async () => {
  const page = await openPage(`${world.stack.apiUrl}/#/devices/console-1`);
  try {
    const value = resource(page, '3303/0/5700').locator('td.value');
    await expect(value.textContent()).resolves.toBe('21.5');
    await expect(resource(page, '3303/0/5700').locator('th').textContent()).resolves.toMatch(/sensorValue/);
    await page.locator('.stream.live').waitFor();

    await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 30.5 }, cb));
    await page.waitForFunction((el) => el?.textContent === '30.5', await value.elementHandle(), { timeout: WAIT_MS });
    // The flash is set by an effect after the render that shows the value, and lasts 1 s.
    await resource(page, '3303/0/5700').locator('td.value.flash').waitFor();

    // The device's own value changes unseen; Read asks it.
    dev.so.write(3303, 0, 5700, 25.25, () => undefined);
    await resource(page, '3303/0/5700').getByRole('button', { name: 'Read' }).click();
    const answer = resource(page, '3303/0/5700').locator('.answer');
    await page.waitForFunction((el) => /^205 Content: 25\.25$/.test(el?.textContent ?? ''), await answer.elementHandle(), {
      timeout: WAIT_MS,
    });
    await expect(value.textContent()).resolves.toBe('25.25');

    // sensorValue is read-only in IPSO: the device refuses the write, and the console says so.
    await resource(page, '3303/0/5700').locator('input.write-input').fill('12');
    await resource(page, '3303/0/5700').getByRole('button', { name: 'Write' }).click();
    await page.waitForFunction((el) => /^405 Method Not Allowed/.test(el?.textContent ?? ''), await answer.elementHandle(), {
      timeout: WAIT_MS,
    });

    const onOff = resource(page, '3311/0/5850');
    await onOff.locator('input.write-input').fill('true');
    await onOff.getByRole('button', { name: 'Write' }).click();
    await page.waitForFunction((el) => /^204 Changed/.test(el?.textContent ?? ''), await onOff.locator('.answer').elementHandle(), {
      timeout: WAIT_MS,
    });
    await expect(onOff.locator('td.value').textContent()).resolves.toBe('true');
    const written = await new Promise((resolve) => dev.so.read(3311, 0, 5850, (_: unknown, v: unknown) => resolve(v)));
    expect(written).toBe(true);

    // A live chart of the numeric resource: a uPlot canvas that takes the next notification.
    await resource(page, '3303/0/5700').getByRole('button', { name: 'Chart' }).click();
    await page.locator('.chart-box canvas').waitFor();
    await expect(page.locator('.chart-box h3').textContent()).resolves.toMatch(/sensorValue \(3303\/0\/5700\)/);
    await nodeCall((cb) => dev.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 31 }, cb));
    await page.waitForFunction((el) => el?.textContent === '31', await value.elementHandle(), { timeout: WAIT_MS });
    await expect(page.locator('.chart-box canvas').count()).resolves.toBe(1);
  } finally {
    await page.close();
  }
});

test('device view: Write attributes, Discover, Execute with arguments, Observe and Cancel, and Read of an instance and an object reach the device', async () => {
  const page = await openPage(`${world.stack.apiUrl}/#/devices/console-1`);
  const answered = async (where: ReturnType<Page['locator']>, pattern: RegExp) =>
    page.waitForFunction(({ el, source }) => new RegExp(source).test(el?.textContent ?? ''), {
      el: await where.locator('.answer').first().elementHandle(),
      source: pattern.source,
    });
  try {
    const sensor = resource(page, '3303/0/5700');
    await sensor.waitFor();
    // Attributes: report at least every second; the device answers with what is in force.
    await sensor.getByRole('button', { name: 'Attributes…' }).click();
    await sensor.getByLabel('pmin').fill('0');
    await sensor.getByLabel('pmax').fill('1');
    await sensor.getByRole('button', { name: 'Write attributes' }).click();
    await answered(sensor, /^204 Changed: .*"pmax":1/);
    await sensor.getByRole('button', { name: 'Discover' }).click();
    await answered(sensor, /^205 Content: .*"pmin":0.*"pmax":1/);

    // Execute with arguments: the device's executable gets them.
    const reset = resource(page, '3/0/5');
    await reset.locator('input.write-input').fill('[1,"x"]');
    await reset.getByRole('button', { name: 'Execute' }).click();
    await answered(reset, /^204 Changed/);
    expect(dev.executed).toContainEqual([1, 'x']);

    // Observe: the device starts reporting, and the shown value follows it; Cancel stops it.
    await sensor.getByRole('button', { name: 'Observe' }).click();
    await answered(sensor, /^205 Content/);
    expect(Object.keys(dev.node._reporters)).toHaveLength(1);
    dev.so.set('temperature', 0, 'sensorValue', 33.5);
    await page.waitForFunction((el) => el?.textContent === '33.5', await sensor.locator('td.value').elementHandle());
    await sensor.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => expect(Object.keys(dev.node._reporters)).toHaveLength(0));
    await answered(sensor, /^205 Content/);

    // A whole instance and a whole object: the read values go into the tree.
    dev.so.write(3311, 0, 5850, false, () => undefined);
    const instance = page.locator('.target-actions[data-target="3311/0"]');
    await instance.getByRole('button', { name: 'Read instance' }).click();
    await answered(instance, /^205 Content: .*"onOff":false/);
    await expect(resource(page, '3311/0/5850').locator('td.value').textContent()).resolves.toBe('false');
    const object = page.locator('.target-actions[data-target="3303"]');
    await object.getByRole('button', { name: 'Read object' }).click();
    await answered(object, /^205 Content: .*"sensorValue":33.5/);
    // mqtt-node observes no whole object: its 405, in words.
    await object.getByRole('button', { name: 'Observe object' }).click();
    await answered(object, /^405 Method Not Allowed/);
  } finally {
    await page.close();
  }
});

test('with LWMQN_API_TOKEN, the console asks for the token (again when refused), then works', async () => {
  const guarded = await startWorld({ LWMQN_API_TOKEN: 'console-token' });
  const page = await openPage(guarded.stack.apiUrl);
  try {
    await guarded.node('guarded-1');
    const field = page.getByLabel('API token');
    await field.waitFor();
    // A wrong token: the form comes back and says so.
    await field.fill('not-it');
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('.token-form', { hasText: 'refused' }).waitFor();
    await field.fill('console-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await row(page, 'guarded-1').waitFor();
    await page.locator('.stream.live').waitFor();
    await expect(page.locator('.token-form').count()).resolves.toBe(0);
  } finally {
    await page.close();
    await guarded.close();
  }
});

test('10,000 devices: the list renders only the rows on screen, and scrolls to the last one', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(WAIT_MS);
  try {
    const now = Math.floor(Date.now() / 1000);
    const fleet = Array.from({ length: 10_000 }, (_, i) => ({
      clientId: `bulk-${String(i).padStart(5, '0')}`,
      joinTime: now,
      lifetime: 600,
      ip: '10.0.0.1',
      mac: 'aa:bb:cc:dd:ee:ff',
      version: '1',
      objList: { '3303': [0] },
      status: i % 3 === 0 ? 'sleep' : 'online',
      expiresAt: now + 600,
    }));
    // The list as two pages, the first naming the second (GET /devices pages; bench/console.ts times the real thing).
    // The second is held back until the first has been seen on its own.
    let sendSecond = () => {};
    const secondMaySend = new Promise<void>((resolve) => (sendSecond = resolve));
    await page.route(
      (url) => url.pathname === '/devices',
      async (route) => {
        const cursor = new URL(route.request().url()).searchParams.get('cursor');
        if (cursor === 'second') {
          await secondMaySend;
          return route.fulfill({ json: fleet.slice(5000) });
        }
        return route.fulfill({ json: fleet.slice(0, 5000), headers: { link: '</devices?limit=5000&cursor=second>; rel="next"' } });
      },
    );
    await page.goto(world.stack.apiUrl, { timeout: WAIT_MS });
    await row(page, 'bulk-00000').waitFor();
    // The first page shows at once, and says that it is not the whole fleet.
    await expect(page.locator('[data-count="all"]').textContent()).resolves.toBe('5000');
    await page.getByRole('status').filter({ hasText: 'loading more…' }).waitFor();
    sendSecond();
    await page.locator('[data-count="all"]', { hasText: /^10000$/ }).waitFor();
    await page.locator('.loading-more').waitFor({ state: 'detached' });
    await expect(page.locator('[data-count="sleep"]').textContent()).resolves.toBe('3334');
    expect(await page.locator('a.row.device').count()).toBeLessThan(60);

    await page.locator('.list').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await row(page, 'bulk-09999').waitFor();
    expect(await page.locator('a.row.device').count()).toBeLessThan(60);

    await page.getByLabel('Status').selectOption('sleep');
    await page.getByLabel('Filter by client id').fill('bulk-0999');
    // bulk-09999 was on screen before the filter: wait for the filtered render itself.
    await page.locator('.shown', { hasText: /^4 shown$/ }).waitFor();
    await row(page, 'bulk-09999').waitFor();
    await expect(page.locator('a.row.device').count()).resolves.toBe(4); // 09990, 09993, 09996, 09999
  } finally {
    await page.close();
  }
});

test('fleet actions and the event log: permit-join counts down, announce reaches the devices, sleeping and offline devices show as such, the log filters and pauses, a removal asks first', async () => {
  const permit = await startWorld({ LWMQN_JOIN: 'permit' });
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.setDefaultTimeout(WAIT_MS);
  try {
    expect((await http(permit.stack.apiUrl, 'POST', '/permit-join', { seconds: 120 })).status).toBe(200);
    const one = await permit.node('perm-1');
    const two = await permit.node('perm-2');
    await page.goto(permit.stack.apiUrl, { timeout: WAIT_MS });
    await row(page, 'perm-2').waitFor();
    await page.locator('.stream.live').waitFor();

    // The window counts down, second by second, and closes on demand.
    const join = page.locator('.fleet-actions .join');
    await page.waitForFunction(
      (el) => /^Joining: open for (1 min \d+|2 min 0) s$/.test(el?.textContent ?? ''),
      await join.elementHandle(),
    );
    const first = await join.textContent();
    await page.waitForFunction(`document.querySelector('.fleet-actions .join')?.textContent !== ${JSON.stringify(first)}`);
    await page.getByRole('button', { name: 'Close now' }).click();
    await page.waitForFunction((el) => el?.textContent === 'Joining: closed', await join.elementHandle());
    expect(((await http(permit.stack.apiUrl, 'GET', '/health')).body as { joinTimeLeft: number }).joinTimeLeft).toBe(0);

    // An announcement reaches every device.
    await page.getByLabel('Announcement').fill('maintenance at noon');
    await page.getByRole('button', { name: 'Announce' }).click();
    await eventually(() => expect(one.announcements).toContainEqual('maintenance at noon'));
    await eventually(() => expect(two.announcements).toContainEqual('maintenance at noon'));

    // A device that checks out sleeps; one that vanishes (its will) is offline.
    expect((await nodeCall((cb) => two.node.checkout(600, cb))).status).toBe(200);
    await page.waitForFunction((el) => /sleeping/.test(el?.textContent ?? ''), await row(page, 'perm-2').elementHandle());
    await new Promise<void>((resolve, reject) =>
      one.node.mc.publish('lwt/perm-1', 'offline', {}, (err?: Error) => (err ? reject(err) : resolve())),
    );
    await page.waitForFunction((el) => /offline/.test(el?.textContent ?? ''), await row(page, 'perm-1').elementHandle());
    await expect(page.locator('[data-count="sleep"]').textContent()).resolves.toBe('1');
    await expect(page.locator('[data-count="offline"]').textContent()).resolves.toBe('1');

    // The event log: what happened since the page opened, filtered by device and type.
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('tr.event').first().waitFor();
    await page.getByLabel('Filter events by client id').fill('perm-2');
    await page.getByLabel('Event type').selectOption('devStatus');
    await page.locator('tr.event[data-client-id="perm-2"][data-type="devStatus"]').first().waitFor();
    const kinds = await page
      .locator('tr.event')
      .evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-client-id')} ${r.getAttribute('data-type')}`));
    expect(new Set(kinds)).toEqual(new Set(['perm-2 devStatus']));

    // Paused, new events are counted, not shown; resumed, they are.
    await page.getByLabel('Event type').selectOption('');
    await page.getByLabel('Filter events by client id').fill('perm-1');
    const before = await page.locator('tr.event').count();
    await page.getByRole('button', { name: 'Pause' }).click();
    await nodeCall((cb) => one.node.notify({ oid: 3303, iid: 0, rid: 5700, data: 40 }, cb));
    await page.waitForFunction(`Number(document.querySelector('[data-waiting]')?.getAttribute('data-waiting')) > 0`);
    expect(await page.locator('tr.event').count()).toBe(before);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('tr.event[data-type="devNotify"]').first().waitFor();

    // Removing a device asks first; confirmed, the device leaves the list.
    await page.goto(`${permit.stack.apiUrl}/#/devices/perm-2`);
    await page.getByRole('button', { name: 'Remove device…' }).click();
    await page.getByRole('alertdialog').waitFor();
    await page.getByRole('button', { name: 'Keep it' }).click();
    expect((await http(permit.stack.apiUrl, 'GET', '/devices/perm-2')).status).toBe(200);
    await page.getByRole('button', { name: 'Remove device…' }).click();
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.waitForFunction(`location.hash === '#/'`);
    await row(page, 'perm-2').waitFor({ state: 'detached' });
    expect((await http(permit.stack.apiUrl, 'GET', '/devices/perm-2')).status).toBe(404);
  } finally {
    await page.close();
    await permit.close();
  }
});

test('`npm run bench:console` (README), sized down: the fleet page timed in Chromium, figures printed as JSON', async () => {
  expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('\nnpm run bench:console\n');
  const run = runCommand('npm run bench:console -- --devices 200 --runs 1 --json', cleanEnv({ CHROMIUM_PATH: CHROMIUM }));
  expect((await run.exit(120_000)).code).toBe(0);
  const out = run.output();
  const report = JSON.parse(out.slice(out.indexOf('\n{') + 1, out.lastIndexOf('}') + 1)) as Record<string, number>;
  expect(report).toMatchObject({ devices: 200, runs: 1 });
  for (const figure of ['firstRowMs', 'allListedMs', 'filterMs']) expect(report[figure]).toBeGreaterThan(0);
  expect(report.allListedMs).toBeGreaterThanOrEqual(report.firstRowMs);
}, 150_000);

test('`lwmqn console --api <url>`: the console for an API behind IAM, every call signed with SigV4 from the AWS credentials; no event stream there, so it polls and says so', async () => {
  const keys = { accessKeyId: 'AKIDCONSOLETEST', secretAccessKey: 'console-test-secret' };
  // The Lambda API: the same app, no event stream (functions/api.ts answers GET /events with 501).
  const cloud = await startIamApi(createApi(world.stack.deps), keys, 'eu-west-1');
  const proxy = runCommand(
    `npx lwmqn console --api ${cloud.url} --region eu-west-1 --port 0`,
    cleanEnv({ AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, npm_config_offline: 'true' }),
  );
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  try {
    const url = await eventually(
      () => {
        const found = /at (http:\/\/127\.0\.0\.1:\d+) \(calls signed with SigV4, eu-west-1\)/.exec(proxy.output())?.[1];
        if (!found) throw new Error(`no console URL yet:\n${proxy.output()}`);
        return found;
      },
      { timeoutMs: 30_000 },
    );
    // Unsigned, the API refuses.
    expect((await fetch(`${cloud.url}/devices`)).status).toBe(403);
    const refusedBefore = cloud.refused.length;

    await page.goto(url);
    await row(page, 'console-1').waitFor();
    await page.locator('.stream.polling').waitFor();
    await expect(page.locator('.stream').textContent()).resolves.toMatch(/polling every 5 s \(no event stream here\)/);

    // A device registering later shows at the next poll.
    await world.node('cloud-3');
    await row(page, 'cloud-3').waitFor({ timeout: 15_000 });

    // A command, a signed POST with a body, reaches the device.
    await page.goto(`${url}/#/devices/console-1`);
    const sensor = resource(page, '3303/0/5700');
    await sensor.getByRole('button', { name: 'Read' }).click();
    await page.waitForFunction((el) => /^205 Content/.test(el?.textContent ?? ''), await sensor.locator('.answer').elementHandle());

    expect(cloud.accepted).toBeGreaterThan(3);
    expect(cloud.refused.slice(refusedBefore)).toEqual([]);
  } finally {
    await page.close();
    process.kill(-proxy.child.pid!, 'SIGINT');
    await proxy.exit(10_000).catch(() => proxy.kill());
    await cloud.close();
  }
});
