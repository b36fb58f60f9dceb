/**
 * Suppression digests: what they say (never the first alert's message; key values redacted per route), a stable
 * id, and windows that survive a SIGKILL (persisted with the checkpoints, restored at the next start; a window
 * whose end passed while the process was down is closed at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { parseDeliveryConfig, type DeliveryConfig } from '../../src/delivery/config.js';
import { Suppressor, type SuppressionState } from '../../src/delivery/Suppressor.js';
import { makeAlert, SECRET_LITERAL } from '../support/alerts.js';
import { jsonLines } from '../support/cli.js';
import { waitFor } from '../support/kinesis.js';

const tmp = () => mkdtemp(join(tmpdir(), 'dasguard-supp-'));

function config(yaml: string): DeliveryConfig {
  const { config, problems } = parseDeliveryConfig('test.yaml', yaml, {});
  assert.deepEqual(problems, []);
  return config!;
}

interface Got {
  id: string;
  message: string;
  suppressedCount?: number;
  event: Record<string, unknown>;
}

const read = async (file: string): Promise<Got[]> => (existsSync(file) ? (jsonLines(await readFile(file, 'utf8')) as unknown as Got[]) : []);
const digests = (got: Got[]) => got.filter((a) => a.suppressedCount !== undefined);

test('a digest says how many alerts of which rule were suppressed, never the first message; key values are redacted per route', async () => {
  const dir = await tmp();
  const lit = join(dir, 'literals.jsonl');
  const full = join(dir, 'full.jsonl');
  const cfg = config(`sinks:
  lit: {type: file, path: "${lit}"}
  full: {type: file, path: "${full}"}
routes:
  - {name: lit, sinks: [lit]}
  - {name: full, sinks: [full], redaction: full}
suppression:
  - {rules: ['pg.*'], window: 1h, keys: [dbUserName, commandText]}
`);
  const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'o'), stderr: new PassThrough() });
  const alert = (i: number) => makeAlert(i, { message: `password of app set to '${SECRET_LITERAL}' (#${i})` });
  await h.handOff([alert(1), alert(2), alert(3), alert(4)]);
  await h.close();

  const [litDigest] = digests(await read(lit));
  assert.ok(litDigest, 'a digest on the literals route');
  assert.equal(litDigest.suppressedCount, 3);
  assert.match(litDigest.message, /^3 more alerts of rule pg\.role-password-change were suppressed within 1 h/);
  assert.match(litDigest.message, /dbUserName=app_admin/);
  assert.match(litDigest.message, /commandText=ALTER ROLE app PASSWORD \? VALID UNTIL \?/);
  assert.equal(litDigest.event.commandText, 'ALTER ROLE app PASSWORD ? VALID UNTIL ?', 'the first alert event, redacted for the route');

  const [fullDigest] = digests(await read(full));
  assert.ok(fullDigest, 'a digest on the full route');
  assert.equal(fullDigest.suppressedCount, 3);
  assert.match(fullDigest.message, /dbUserName=app_admin/);
  assert.doesNotMatch(JSON.stringify(fullDigest), /ALTER ROLE app PASSWORD/, 'no statement text at all under full');
  for (const text of [await readFile(lit, 'utf8'), await readFile(full, 'utf8')]) {
    const ds = digests(jsonLines(text) as unknown as Got[]);
    assert.doesNotMatch(JSON.stringify(ds), new RegExp(SECRET_LITERAL), 'the first message (and its literal) is not in the digest');
  }
});

test('the digest id does not depend on the clock: the same alerts give the same digest id', async () => {
  const ids: string[] = [];
  for (const offset of [0, 3_600_000]) {
    const dir = await tmp();
    const file = join(dir, 'a.jsonl');
    const cfg = config(`sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\nsuppression:\n  - {rules: ['pg.*'], window: 10m, keys: [dbUserName]}\n`);
    const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'o'), stderr: new PassThrough(), now: () => Date.now() + offset });
    await h.handOff([makeAlert(1), makeAlert(2), makeAlert(3)]);
    await h.close();
    const [d] = digests(await read(file));
    ids.push(d!.id);
  }
  assert.equal(ids[0], ids[1]);
});

/**
 * A child process that opens the handoff with persisted suppression, hands off `n` alerts of one key, persists
 * (what the consumer does before writing checkpoints) and waits to be killed.
 */
async function crashAfterPersist(dir: string, yaml: string, n: number): Promise<void> {
  const cfgFile = join(dir, 'dasguard.yaml');
  await writeFile(cfgFile, yaml);
  const child = join(dir, 'child.mts');
  await writeFile(
    child,
    `import { loadDeliveryConfig } from ${JSON.stringify(resolve('src/delivery/config.ts'))};
import { DeliveryHandoff } from ${JSON.stringify(resolve('src/delivery/DeliveryHandoff.ts'))};
import { makeAlert } from ${JSON.stringify(resolve('test/support/alerts.ts'))};
const { config } = await loadDeliveryConfig(${JSON.stringify(cfgFile)}, process.env);
const h = await DeliveryHandoff.open(config!, { outboxDir: ${JSON.stringify(join(dir, 'outbox'))}, persistSuppression: true });
for (let i = 0; i < ${n}; i++) await h.handOff([makeAlert(700 + i)]);
await h.persist();
process.stdout.write('persisted\\n');
setInterval(() => {}, 1000);
`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise((r) => proc.on('exit', r));
  try {
    await waitFor(() => out.includes('persisted') || proc.exitCode !== null, 'the child to persist');
  } finally {
    proc.kill('SIGKILL');
  }
  await exited;
  assert.ok(out.includes('persisted'), `the child did not persist: ${err}`);
}

test('SIGKILL after the windows were persisted: the restart restores them and the digest counts every suppressed alert', async () => {
  const dir = await tmp();
  const file = join(dir, 'a.jsonl');
  const yaml = `sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\nsuppression:\n  - {rules: ['pg.*'], window: 1h, keys: [dbUserName]}\n`;
  await crashAfterPersist(dir, yaml, 40);
  const h = await DeliveryHandoff.open(config(yaml), { outboxDir: join(dir, 'outbox'), stderr: new PassThrough(), persistSuppression: true });
  await h.handOff([makeAlert(900)]); // same key: counted in the restored window
  await h.close();
  const got = await read(file);
  assert.deepEqual(got.filter((a) => a.suppressedCount === undefined).map((a) => a.id), [makeAlert(700).id]);
  assert.deepEqual(digests(got).map((d) => d.suppressedCount), [40]);
});

test('a window whose end passed while the process was down is closed at start and its digest sent', async () => {
  const dir = await tmp();
  const file = join(dir, 'a.jsonl');
  const yaml = `sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\nsuppression:\n  - {rules: ['pg.*'], window: 10m, keys: [dbUserName]}\n`;
  await crashAfterPersist(dir, yaml, 5);
  // Restarted an hour later: the 10-minute window ended while the process was down.
  const h = await DeliveryHandoff.open(config(yaml), { outboxDir: join(dir, 'outbox'), stderr: new PassThrough(), persistSuppression: true, now: () => Date.now() + 3_600_000 });
  try {
    await waitFor(() => existsSync(file) && digests(jsonLines(readFileSync(file, 'utf8')) as unknown as Got[]).length > 0, 'the digest, before close');
  } finally {
    await h.close();
  }
  assert.deepEqual(digests(await read(file)).map((d) => d.suppressedCount), [4]);
});

test('alerts re-read after a restart are not counted again, even when their shard gets to them after several checkpoints', () => {
  const cfg = [{ rules: ['pg.*'], windowMs: 3_600_000, keys: ['dbUserName'] }];
  const before = new Suppressor(cfg, { trackTaken: true });
  before.filter([makeAlert(1), makeAlert(2), makeAlert(3)]);
  const saved = JSON.parse(JSON.stringify(before.snapshot())) as SuppressionState; // then the crash
  const after = new Suppressor(cfg, { trackTaken: true });
  after.restore(saved);
  for (let i = 0; i < 3; i++) {
    after.filter([makeAlert(10 + i)]); // another shard moves on, checkpoints are written
    after.snapshot();
    after.committed();
  }
  assert.deepEqual(after.filter([makeAlert(1), makeAlert(2), makeAlert(3)]).result, [], 'the slow shard re-reads: nothing new');
  assert.deepEqual(after.flush().result.map((d) => d.suppressedCount), [2 + 3]);
});
