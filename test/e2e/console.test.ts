import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { nodeCall, startWorld, type E2eNode, type E2eWorld } from '../helpers/mqtt-node';

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
    await expect(value.getAttribute('class')).resolves.toMatch(/flash/);

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
    await page.route('**/devices', (route) => route.fulfill({ json: fleet }));
    const started = Date.now();
    await page.goto(world.stack.apiUrl, { timeout: WAIT_MS });
    await row(page, 'bulk-00000').waitFor();
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(page.locator('[data-count="all"]').textContent()).resolves.toBe('10000');
    await expect(page.locator('[data-count="sleep"]').textContent()).resolves.toBe('3334');
    expect(await page.locator('a.row.device').count()).toBeLessThan(60);

    await page.locator('.list').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await row(page, 'bulk-09999').waitFor();
    expect(await page.locator('a.row.device').count()).toBeLessThan(60);

    await page.getByLabel('Status').selectOption('sleep');
    await page.getByLabel('Filter by client id').fill('bulk-0999');
    await row(page, 'bulk-09999').waitFor();
    await expect(page.locator('a.row.device').count()).resolves.toBe(4); // 09990, 09993, 09996, 09999
  } finally {
    await page.close();
  }
});
