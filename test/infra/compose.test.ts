import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * local/docker-compose.yml, the Dockerfile it builds and the .dockerignore, read as text: no
 * Docker here, so this checks the wiring the running stack depends on.
 */
const ROOT = join(__dirname, '..', '..');
const LOCAL = join(ROOT, 'local');
const compose = parse(readFileSync(join(LOCAL, 'docker-compose.yml'), 'utf8'));
const services = compose.services as Record<string, any>;

/** `"host:container"`, `"ip:host:container"` or the long form, as container port numbers. */
function containerPorts(service: any): number[] {
  return (service.ports ?? []).map((p: unknown) => {
    if (typeof p === 'object' && p !== null) return Number((p as { target: number }).target);
    const parts = String(p).split('/')[0].split(':');
    return Number(parts[parts.length - 1]);
  });
}
function hostPorts(service: any): number[] {
  return (service.ports ?? []).map((p: unknown) => {
    if (typeof p === 'object' && p !== null) return Number((p as { published: number }).published);
    const parts = String(p).split('/')[0].split(':');
    return Number(parts[parts.length - 2]);
  });
}

/** Volume entries as [source, target], the `:ro` flag dropped. */
function mounts(service: any): [string, string][] {
  return (service.volumes ?? []).map((v: unknown) => {
    if (typeof v === 'object' && v !== null) return [(v as any).source, (v as any).target];
    const [source, target] = String(v).split(':');
    return [source, target];
  });
}

const env = (service: any): Record<string, string> => {
  const e = service.environment ?? {};
  if (!Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(e.map((kv: string) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
};

test('three services: mosquitto, dynamodb and lwmqn', () => {
  expect(Object.keys(services).sort()).toEqual(['dynamodb', 'lwmqn', 'mosquitto']);
  expect(services.mosquitto.image).toBe('eclipse-mosquitto:2');
  expect(services.dynamodb.image).toMatch(/^amazon\/dynamodb-local(:|$)/);
});

test('mosquitto publishes 1883 and mounts ./mosquitto as its config dir, mosquitto.conf at the default path', () => {
  expect(containerPorts(services.mosquitto)).toContain(1883);
  expect(hostPorts(services.mosquitto)).toContain(1883);
  const m = mounts(services.mosquitto);
  expect(m).toContainEqual(['./mosquitto/mosquitto.conf', '/mosquitto/config/mosquitto.conf']);
  expect(m).toContainEqual(['./mosquitto', '/mosquitto/config']);
  // The image's default command reads exactly that file.
  expect(services.mosquitto.command).toBeUndefined();
});

test('lwmqn is built from the repository root Dockerfile and wired to the other two', () => {
  const lwmqn = services.lwmqn;
  expect(resolve(LOCAL, lwmqn.build.context)).toBe(ROOT);
  expect(lwmqn.build.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
  expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
  const depends = Array.isArray(lwmqn.depends_on) ? lwmqn.depends_on : Object.keys(lwmqn.depends_on);
  expect(depends.sort()).toEqual(['dynamodb', 'mosquitto']);

  const e = env(lwmqn);
  expect(e.MQTT_URL).toBe('mqtt://mosquitto:1883');
  expect(e.DYNAMODB_ENDPOINT).toBe('http://dynamodb:8000');
  expect(e.HTTP_HOST).toBe('0.0.0.0');
  expect(e.LWMQN_BRIDGE_USERNAME).toMatch(/^\$\{LWMQN_BRIDGE_USERNAME[:}]/);
  expect(e.LWMQN_BRIDGE_PASSWORD).toMatch(/^\$\{LWMQN_BRIDGE_PASSWORD[:}]/);
  expect(containerPorts(lwmqn)).toContain(8080);
  expect(hostPorts(lwmqn)).toContain(8080);
});

test('every variable handed to lwmqn is one the local stack reads', () => {
  const sources = ['local/stack.ts', 'shared/config.ts'].map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
  for (const name of Object.keys(env(services.lwmqn))) {
    expect({ name, read: new RegExp(`\\b${name}\\b`).test(sources) }).toEqual({ name, read: true });
  }
});

test('no secret in the file: the bridge password is only interpolated from the environment', () => {
  const raw = readFileSync(join(LOCAL, 'docker-compose.yml'), 'utf8');
  expect(raw).toMatch(/LWMQN_BRIDGE_PASSWORD: \$\{LWMQN_BRIDGE_PASSWORD:\?[^}]+\}/);
});

test('the Dockerfile: node:20-slim, npm ci, starts the server through local/launch.cjs', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM node:20-slim\s*$/m);
  expect(dockerfile).toMatch(/^RUN npm ci\b/m);
  expect(dockerfile).toMatch(/^CMD \["node", "--max-semi-space-size=4", "local\/launch\.cjs"\]\s*$/m);
  // Everything start.ts imports is copied in.
  for (const dir of ['shared', 'functions', 'local', 'console']) expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} `, 'm'));
});

test('.dockerignore keeps node_modules, local state and the broker secrets out of the build context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.git', '.lwmqn', 'cdk.out', 'local/mosquitto']));
  for (const needed of ['shared', 'functions', 'local', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    expect(ignored).not.toContain(needed);
  }
});
