import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { nodeCall, startWorld, type E2eNode } from './helpers/mqtt-node';

/**
 * Takes the README's pictures of the web console (docs/console-fleet.png, docs/console-device.png,
 * docs/console-events.png)
 * against the real stack and a few mqtt-node devices. Run once by hand, not in CI:
 * `npx tsx test/console-screenshots.ts` (needs mosquitto and /usr/bin/chromium).
 */
async function main(): Promise<void> {
  const world = await startWorld();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const ids = ['greenhouse-01', 'greenhouse-02', 'hall-light-01', 'hall-light-02', 'kitchen-temp', 'porch-sensor'];
    const devices: E2eNode[] = [];
    for (const id of ids) devices.push(await world.node(id));
    await nodeCall((cb) => devices[4].node.checkout(600, cb)); // kitchen-temp: asleep
    const page = await browser.newPage({ viewport: { width: 1280, height: 560 } });
    await page.goto(world.stack.apiUrl);
    await page.locator('a.row.device').first().waitFor();
    await nodeCall((cb) => devices[0].node.notify({ oid: 3303, iid: 0, rid: 5700, data: 23.4 }, cb));
    await page.waitForTimeout(1500);
    await page.screenshot({ path: resolve(__dirname, '../docs/console-fleet.png') });

    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${world.stack.apiUrl}/#/devices/greenhouse-01`);
    const sensor = page.locator('tr[data-path="3303/0/5700"]');
    await sensor.waitFor();
    await sensor.getByRole('button', { name: 'Read' }).click();
    await sensor.locator('.answer').filter({ hasText: '205' }).waitFor();
    const onOff = page.locator('tr[data-path="3311/0/5850"]');
    await onOff.locator('input.write-input').fill('true');
    await onOff.getByRole('button', { name: 'Write' }).click();
    await onOff.locator('.answer').filter({ hasText: '204' }).waitFor();
    await sensor.getByRole('button', { name: 'Chart' }).click();
    for (const t of [21.9, 22.4, 22.1, 23.0, 23.6, 23.2, 24.0]) {
      await nodeCall((cb) => devices[0].node.notify({ oid: 3303, iid: 0, rid: 5700, data: t }, cb));
      await page.waitForTimeout(250);
    }
    await nodeCall((cb) => devices[0].node.notify({ oid: 3303, iid: 0, rid: 5700, data: 24.1 }, cb));
    await page.waitForTimeout(200); // mid-flash
    await page.screenshot({ path: resolve(__dirname, '../docs/console-device.png'), fullPage: true });

    await page.setViewportSize({ width: 1280, height: 600 });
    await page.goto(`${world.stack.apiUrl}/#/events`);
    for (const [i, t] of [22.8, 23.1].entries()) {
      await nodeCall((cb) => devices[i].node.notify({ oid: 3303, iid: 0, rid: 5700, data: t }, cb));
    }
    await nodeCall((cb) => devices[3].node.update({ version: '1.1.0' }, cb));
    await page.locator('tr.event[data-type="devUpdate"]').waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: resolve(__dirname, '../docs/console-events.png') });
  } finally {
    await browser.close();
    await world.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
