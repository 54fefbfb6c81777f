/**
 * The web console with a big fleet: starts the local stack on its embedded broker and store,
 * writes `--devices` registered devices into the store, opens the fleet page in headless
 * Chromium (Debian's `chromium`, or CHROMIUM_PATH) `--runs` times and prints, per run and as
 * medians:
 *   - first row: from navigation to the first device row on screen,
 *   - all listed: until the count shows every device (every page of GET /devices read),
 *   - filter: from typing a client id filter to the matching rows on screen (in the page's clock).
 *
 *   npm run bench:console -- [--devices 10000] [--runs 5] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { startStack } from '../local/stack';
import type { DeviceItem } from '../shared/store/model';
import { median, round } from './stats';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const devices = Number(values.devices);
const runs = Number(values.runs);
if (!Number.isInteger(devices) || devices < 1) throw new Error('--devices is a whole number, 1 or more');
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs is a whole number, 1 or more');
const say = (line: string) => process.stderr.write(`${line}\n`);

function item(clientId: string, i: number, nowMs: number): DeviceItem {
  const now = Math.floor(nowMs / 1000);
  return {
    clientId,
    joinTime: now,
    lifetime: 86_400,
    ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
    mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    version: '1.0',
    objList: { '1': [0], '3': [0], '3303': [0], ...(i % 2 ? { '3311': [0] } : {}) },
    status: i % 10 === 0 ? 'sleep' : 'online',
    expiresAt: now + 86_400,
    objects: {},
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwmqn-console-bench-'));
  const stack = await startStack(
    { ...process.env, MQTT_URL: '', DYNAMODB_ENDPOINT: '', MQTT_PORT: '0', HTTP_PORT: '0', LWMQN_DATA_DIR: dataDir },
    pino({ level: 'warn' }),
  );
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const ids = Array.from({ length: devices }, (_, i) => `bench-${String(i).padStart(6, '0')}`);
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < ids.length) {
          const i = next++;
          await stack.deps.devices.create(item(ids[i], i, started), Date.now());
        }
      }),
    );
    say(`${devices} devices written in ${Date.now() - started} ms`);
    // The last ten (or fewer) ids share this prefix: a filter that leaves a screenful.
    const needle = ids[ids.length - 1].slice(0, -1);
    const expected = ids.filter((id) => id.includes(needle)).length;

    const results: Array<{ firstRowMs: number; allListedMs: number; filterMs: number }> = [];
    for (let run = 0; run < runs; run++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(120_000);
      const t0 = Date.now();
      await page.goto(stack.apiUrl);
      await page.locator('a.row.device').first().waitFor();
      const firstRowMs = Date.now() - t0;
      await page.waitForFunction(`document.querySelector('[data-count="all"]')?.textContent === '${devices}'`, undefined, {
        polling: 'raf',
      });
      const allListedMs = Date.now() - t0;
      const filterMs = await page.evaluate<number>(`new Promise((done) => {
        const input = document.querySelector('input[aria-label="Filter by client id"]');
        const start = performance.now();
        input.value = ${JSON.stringify(needle)};
        input.dispatchEvent(new Event('input', { bubbles: true }));
        const check = () => {
          const rows = document.querySelectorAll('a.row.device');
          if (rows.length === ${expected} && [...rows].every((r) => r.dataset.clientId.includes(${JSON.stringify(needle)})))
            done(performance.now() - start);
          else requestAnimationFrame(check);
        };
        check();
      })`);
      await page.close();
      results.push({ firstRowMs, allListedMs, filterMs: round(filterMs, 1) });
      say(`run ${run + 1}: first row ${firstRowMs} ms, all ${devices} listed ${allListedMs} ms, filter ${round(filterMs, 1)} ms`);
    }
    const summary = {
      devices,
      runs,
      firstRowMs: median(results.map((r) => r.firstRowMs)),
      allListedMs: median(results.map((r) => r.allListedMs)),
      filterMs: median(results.map((r) => r.filterMs)),
      results,
    };
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else
      console.log(
        `console with ${devices} devices, median of ${runs}: first row ${summary.firstRowMs} ms, ` +
          `all listed ${summary.allListedMs} ms, filter ${summary.filterMs} ms`,
      );
  } finally {
    await browser.close();
    await stack.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:console: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
