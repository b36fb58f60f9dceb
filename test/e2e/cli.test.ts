import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { capturedIo, jsonLines, plainErrors, runCli } from '../support/cli.js';
import type { OptionDecl } from '../../src/commands/command.js';
import { withEnv } from '../support/env.js';
import { MYSQL, PG, postgresSample } from '../../scripts/sampleData.js';
import { startWebhookServer } from '../support/webhookServer.js';
import { clusterModel, startRdsServer } from '../support/rdsServer.js';
import { loopbackEnv } from '../support/kinesis.js';

const KEY = 'samples/demo-master-key.json';
const PG_STREAM = `samples/streams/aws-rds-das-${PG.clusterId}.jsonl`;
const MY_STREAM = `samples/streams/aws-rds-das-${MYSQL.clusterId}.jsonl`;
const PG_PLAIN = `samples/plaintext/aws-rds-das-${PG.clusterId}.jsonl`;
const MY_PLAIN = `samples/plaintext/aws-rds-das-${MYSQL.clusterId}.jsonl`;

function withoutSource(alerts: Record<string, unknown>[]): Record<string, unknown>[] {
  return alerts.map(({ source: _s, ...rest }) => rest);
}

test('npm start (replay of the bundled samples) prints alerts and a summary, exit 0', async () => {
  // exactly what `npm start` runs
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { start: string } };
  const args = pkg.scripts.start.split(/\s+/);
  assert.deepEqual(args.slice(0, 2), ['node', 'bin/dasguard.js']);
  const r = await runCli(args.slice(2));
  assert.equal(r.code, 0, r.stderr);
  // one aligned line per alert: time, severity, rule, cluster, user@host, message, id; no position
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.every((l) => /^\d{4}-\d\d-\d\dT\S+Z (INFO|LOW|MEDIUM|HIGH|CRITICAL) +\S+ +cluster-\S+ +\S+@\S+ +.+ {2}\[[0-9a-f]{32}\]$/.test(l)), r.stdout);
  assert.equal(r.stdout.includes('shard shardId'), false);
  assert.ok(lines.length >= 10, `expected alerts, got:\n${r.stdout}`);
  assert.match(r.stdout, /HIGH|CRITICAL/);
  assert.match(r.stderr, /dasguard replay: \d+ records \(\d+ encrypted\), \d+ activity events, \d+ heartbeats, \d+ alerts, 0 quarantined/);
  assert.match(r.stderr, /alerts by rule:/);
  // each sample alert once: the plaintext twins are not replayed on top of the encrypted streams
  const golden = (await readFile(`samples/expected/postgresql-alerts.jsonl`, 'utf8')).trim().split('\n').length + (await readFile(`samples/expected/mysql-alerts.jsonl`, 'utf8')).trim().split('\n').length;
  assert.equal(lines.length, golden);
  // --verbose: each line ends with the record's position, each pack rule's runbook on an indented second line
  const v = await runCli([...args.slice(2), '--verbose']);
  const all = v.stdout.trim().split('\n');
  const heads = all.filter((l) => !l.startsWith(' '));
  assert.equal(heads.length, golden);
  assert.ok(heads.every((l) => / \(samples\/streams\/\S+\.jsonl:\d+ shard shardId-000000000000 sequence \d+\)$/.test(l)), v.stdout);
  assert.equal(all.filter((l) => /^\s+runbook: /.test(l)).length, golden, 'every pack alert shows its runbook');
});

test('encrypted and plaintext forms of each sample give identical alerts, equal to the reviewed golden files', async () => {
  for (const [name, enc, plain] of [
    ['postgresql', PG_STREAM, PG_PLAIN],
    ['mysql', MY_STREAM, MY_PLAIN],
  ] as const) {
    const a = await runCli(['replay', enc, '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', '--quiet']);
    const b = await runCli(['replay', plain, '--rules', 'rules', '--output', 'jsonl', '--quiet']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const fromEncrypted = withoutSource(jsonLines(a.stdout));
    const fromPlaintext = withoutSource(jsonLines(b.stdout));
    assert.ok(fromEncrypted.length > 0);
    assert.deepEqual(fromEncrypted, fromPlaintext, `${name}: encrypted vs plaintext`);
    const golden = jsonLines(await readFile(`samples/expected/${name}-alerts.jsonl`, 'utf8'));
    assert.deepEqual(fromEncrypted, golden, `${name}: vs samples/expected/${name}-alerts.jsonl`);
    // ids are unique and stable across runs
    const again = withoutSource(jsonLines((await runCli(['replay', enc, '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', '--quiet'])).stdout));
    assert.deepEqual(again.map((x) => x.id), fromEncrypted.map((x) => x.id));
    assert.equal(new Set(fromEncrypted.map((x) => x.id)).size, fromEncrypted.length, 'alert ids are unique');
  }
});

test('alerts never carry the literals of the statement (card numbers, passwords)', async () => {
  const r = await runCli(['replay', 'samples/streams', '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  for (const secret of ['4111111111111111', 'Summer2026!', 'Winter2026!']) assert.ok(!r.stdout.includes(secret), `${secret} leaked into an alert`);
  const none = await runCli(['replay', 'samples/streams', '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', '--quiet', '--redaction', 'none']);
  assert.ok(none.stdout.includes('4111111111111111'), '--redaction none keeps literals');
});

test('decode prints every original field (unknown ones included) plus the added ones; heartbeats only on request', async () => {
  const r = await runCli(['decode', PG_STREAM, '--key-file', KEY, '--quiet', '--redaction', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  const plain = jsonLines(await readFile(PG_PLAIN, 'utf8'));
  const originals = plain.flatMap((env) => ((env.databaseActivityEvents as Record<string, unknown>).databaseActivityEventList as Record<string, unknown>[]).filter((e) => e.type === 'record'));
  assert.equal(events.length, originals.length);
  for (let i = 0; i < events.length; i++) {
    for (const [k, v] of Object.entries(originals[i]!)) assert.deepEqual(events[i]![k], v, `event ${i} field ${k}`);
    assert.equal(events[i]!.engine, 'postgresql');
    assert.equal(events[i]!.clusterId, PG.clusterId);
  }
  assert.ok(events.some((e) => e.queryId === '-4526581229458611234'), 'the unknown field survives');
  assert.ok(!r.stdout.includes('"heartbeat"'));
  const hb = await runCli(['decode', PG_STREAM, '--key-file', KEY, '--quiet', '--heartbeats']);
  assert.ok(hb.stdout.includes('"heartbeat"'));
  // by default, decode follows the redaction policy like every other output
  const masked = jsonLines((await runCli(['decode', PG_STREAM, '--key-file', KEY, '--quiet'])).stdout);
  const card = events.find((e) => typeof e.commandText === 'string' && /'[^']+'/.test(e.commandText as string));
  assert.ok(card !== undefined, 'the sample has a statement with a literal');
  const same = masked.find((e) => e.sessionId === card.sessionId && e.statementId === card.statementId && e.logTime === card.logTime)!;
  assert.notEqual(same.commandText, card.commandText);
  assert.ok(!/'[^']+'/.test(same.commandText as string), String(same.commandText));
  assert.deepEqual({ ...same, commandText: null, paramList: null, errorMessage: null }, { ...card, commandText: null, paramList: null, errorMessage: null });
});

test('a bad record in the middle is quarantined with file:line and reason; the rest is processed; --strict exits 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cli-'));
  const lines = (await readFile(PG_STREAM, 'utf8')).trim().split('\n');
  const tampered = JSON.parse(lines[4]!) as { Data: string };
  const env = JSON.parse(Buffer.from(tampered.Data, 'base64').toString()) as { databaseActivityEvents: string };
  const payload = Buffer.from(env.databaseActivityEvents, 'base64');
  payload.writeUInt8(payload.readUInt8(payload.length - 200) ^ 1, payload.length - 200); // a bit flipped in the body
  env.databaseActivityEvents = payload.toString('base64');
  tampered.Data = Buffer.from(JSON.stringify(env)).toString('base64');
  const mixed = [lines[0], lines[1], 'garbage line', lines[3], JSON.stringify(tampered), ...lines.slice(5)].join('\n');
  const f = join(dir, `aws-rds-das-${PG.clusterId}.jsonl`);
  await writeFile(f, mixed);
  const q = join(dir, 'quarantine.jsonl');
  const full = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'jsonl', '--quiet']);
  const r = await runCli(['replay', f, '--key-file', KEY, '--output', 'jsonl', '--quarantine-file', q]);
  assert.equal(r.code, 0, 'quarantine is not fatal by default');
  assert.match(r.stderr, /2 quarantined/);
  assert.match(r.stderr, new RegExp(`${f}:3: not-json`));
  assert.match(r.stderr, new RegExp(`${f}:5 shard shardId-000000000000 sequence \\d+: payload-decrypt-failed: .*altered`));
  // every other record's alerts are there, in order
  const lineOf = (a: Record<string, unknown>) => Number(/:(\d+) /.exec(String(a.source))![1]);
  const expected = jsonLines(full.stdout).filter((a) => lineOf(a) !== 3 && lineOf(a) !== 5);
  assert.ok(expected.length > 0);
  assert.deepEqual(jsonLines(r.stdout).map((a) => a.id), expected.map((a) => a.id));
  const qs = jsonLines(await readFile(q, 'utf8'));
  assert.deepEqual(qs.map((x) => x.reason), ['not-json', 'payload-decrypt-failed']);
  const strict = await runCli(['replay', f, '--key-file', KEY, '--quiet', '--strict']);
  assert.equal(strict.code, 1);
});

/** The bundled PostgreSQL sample's records (JSON lines of Kinesis records), each changed by `edit`, in a temporary file. */
async function editedStream(name: string, edit: (record: Record<string, unknown>, index: number) => Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cli-'));
  const lines = (await readFile(PG_STREAM, 'utf8')).trim().split('\n');
  const f = join(dir, name);
  await writeFile(f, lines.map((l, i) => JSON.stringify(edit(JSON.parse(l) as Record<string, unknown>, i))).join('\n') + '\n');
  return f;
}

/** The `dasguard:` error lines of a run (the summary and progress are not). */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('dasguard: '));
}

test('the wrong cluster id: exit 2 once, naming the first record, the encryption context tried and --resource-id', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cli-'));
  const q = join(dir, 'quarantine.jsonl');
  const r = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--resource-id', 'cluster-SOMEOTHERCLUSTER', '--quarantine-file', q]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const errors = errorLines(r.stderr);
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, new RegExp(`${PG_STREAM}:1 .*aws:rds:dbc-id.*cluster-SOMEOTHERCLUSTER.*--resource-id`));
  assert.doesNotMatch(r.stderr, /key-decrypt-failed/);
  assert.equal(await readFile(q, 'utf8').catch(() => ''), '', 'nothing quarantined per record');
});

test('a key file that decrypts none of the records: replay and decode exit 2 with one message saying what to pass', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cli-'));
  const { LocalKeyProvider } = await import('../../src/keys/LocalKeyProvider.js');
  const other = join(dir, 'other-key.json');
  // Same key id, another master key: what a user gets with the key file of another environment.
  await writeFile(other, LocalKeyProvider.fromJson({ ...JSON.parse(await readFile(KEY, 'utf8')), key: Buffer.alloc(32, 7).toString('base64') }).toFileJson());
  const q = join(dir, 'quarantine.jsonl');
  for (const command of ['replay', 'decode']) {
    const r = await runCli([command, PG_STREAM, '--key-file', other, '--quarantine-file', q]);
    assert.equal(r.code, 2, `${command}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const errors = errorLines(r.stderr);
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, new RegExp(`${PG_STREAM}:1 .*no data key has decrypted.*${PG.clusterId}.*--key-file`));
  }
  assert.equal(await readFile(q, 'utf8').catch(() => ''), '', 'nothing quarantined per record');
});

test('encrypted records whose resource id is unknown: exit 2, telling the user to pass --resource-id', async () => {
  // A dump without StreamName, in a file not named after the stream.
  const f = await editedStream('dump.jsonl', ({ StreamName: _name, ...rest }) => rest);
  const r = await runCli(['replay', f, '--key-file', KEY]);
  assert.equal(r.code, 2, r.stderr);
  const errors = errorLines(r.stderr);
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, new RegExp(`${f}:1 .*resource id is unknown: pass --resource-id`));
  const fixed = await runCli(['replay', f, '--key-file', KEY, '--resource-id', PG.clusterId, '--quiet']);
  assert.equal(fixed.code, 0, fixed.stderr);
});

test('one damaged data key among good ones (the first record): that record is quarantined, counted as encrypted, exit 0', async () => {
  const f = await editedStream(`aws-rds-das-${PG.clusterId}.jsonl`, (rec, i) => {
    if (i !== 0) return rec;
    const env = JSON.parse(Buffer.from(String(rec.Data), 'base64').toString()) as { key: string };
    const key = Buffer.from(env.key, 'base64');
    key[key.length - 1]! ^= 1; // a bit flipped in the wrapped key's tag
    env.key = key.toString('base64');
    return { ...rec, Data: Buffer.from(JSON.stringify(env)).toString('base64') };
  });
  // The verdict reads ahead in the input, whatever --concurrency is (1: nothing else is in flight).
  for (const concurrency of ['16', '1']) {
    const r = await runCli(['replay', f, '--key-file', KEY, '--output', 'jsonl', '--concurrency', concurrency]);
    assert.equal(r.code, 0, r.stderr);
    const n = postgresSample().length;
    assert.match(r.stderr, new RegExp(`dasguard replay: ${n} records \\(${n} encrypted\\), .* 1 quarantined`));
    assert.match(r.stderr, new RegExp(`${f}:1 shard shardId-000000000000 sequence \\d+: key-decrypt-failed: `));
    assert.ok(jsonLines(r.stdout).length > 0, 'the other records were evaluated');
  }
});

test('--fail-on exits 3 when an alert at or above the severity fired, 0 otherwise', async () => {
  const hi = await runCli(['replay', PG_PLAIN, '--quiet', '--fail-on', 'high']);
  assert.equal(hi.code, 3);
  const bad = await runCli(['replay', PG_PLAIN, '--fail-on', 'urgent']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--fail-on must be one of info, low, medium, high, critical/);
});

test('usage errors exit 2 with a clear message', async () => {
  assert.equal((await runCli(['replay'])).code, 2);
  const unknown = await runCli(['replay', PG_PLAIN, '--colour']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --colour for 'dasguard replay'\n/);
  const slip = await runCli(['replay', PG_PLAIN, '--rule', 'rules']);
  assert.equal(slip.code, 2);
  assert.match(slip.stderr, /unknown option --rule for 'dasguard replay' \(did you mean '--rules'\?\)/);
  const missing = await runCli(['replay', 'no/such/file.jsonl']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /input not found: no\/such\/file.jsonl/);
  assert.equal((await runCli(['frobnicate'])).code, 2);
  // a flag that would have no effect is refused, saying why (not silently ignored)
  const outbox = await runCli(['alert-test', '--route', 'ops', '--outbox-dir', 'o']);
  assert.equal(outbox.code, 2);
  assert.match(outbox.stderr, /^dasguard: alert-test takes no --outbox-dir: it sends the test alert straight to each sink of the route, without the outbox$/m);
  const help = await runCli(['replay', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--fail-on SEVERITY/);
});

test('replay and decode name every start-up mistake at once: the rule files, the inputs, the key file (exit 2, nothing read)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-mistakes-'));
  await writeFile(join(dir, 'bad.yaml'), 'rules:\n  - id: broken\n    severity: urgent\n');
  const replay = await runCli(['replay', join(dir, 'gone.jsonl'), '--rules', dir, '--key-file', join(dir, 'nokey.json')]);
  assert.equal(replay.code, 2);
  assert.deepEqual(replay.stderr.trimEnd().split('\n').map((l) => l.replace(dir, 'DIR').replace(/(key file \S+): .*/, '$1')), [
    "DIR/bad.yaml:2 broken: rule has no 'when' condition",
    'DIR/bad.yaml:3 broken: bad severity text "urgent": one of info, low, medium, high, critical',
    'dasguard: 2 problems in the rule files; nothing was evaluated',
    'dasguard: input not found: DIR/gone.jsonl',
    'dasguard: cannot read key file DIR/nokey.json',
  ]);
  const decode = await runCli(['decode', join(dir, 'gone.jsonl'), '--key-file', join(dir, 'nokey.json')]);
  assert.equal(decode.code, 2);
  assert.match(decode.stderr, /^dasguard: input not found: .*gone\.jsonl\ndasguard: cannot read key file .*nokey\.json/);
});

test('errors become exit codes in one place (main, errors.ts exitCodeOf); a command adds its stop message with `stopped`', async () => {
  const { ConfigError, DataKeyError, DirLockedError, ExitError, TransientError, UsageError, exitCodeOf, stopped } = await import('../../src/errors.js');
  assert.equal(exitCodeOf(new ExitError(3, 'x')), 3);
  assert.equal(exitCodeOf(new UsageError('x')), 2);
  assert.equal(exitCodeOf(new ConfigError('x')), 2);
  assert.equal(exitCodeOf(new DataKeyError('never-decrypted', 'x')), 2);
  assert.equal(exitCodeOf(new DirLockedError('x', 'f', undefined)), 2);
  assert.equal(exitCodeOf(new TransientError('x')), 4);
  assert.equal(exitCodeOf(new Error('a bug')), undefined, 'anything else is an internal error (70)');
  const cause = new TransientError('KMS Decrypt throttled');
  const stop = stopped(cause);
  assert.ok(stop instanceof TransientError && stop.cause === cause);
  assert.equal(stop.message, 'stopped: KMS Decrypt throttled (retries exhausted; nothing was skipped: re-run to continue)');
  const config = new ConfigError('bad');
  assert.equal(stopped(config), config, 'only a transient failure gets the stop message');
  // no command maps the classes itself (they used to, six times, in words that differed)
  for (const file of await readdir('src/commands')) {
    const text = await readFile(join('src/commands', file), 'utf8');
    assert.doesNotMatch(text, /instanceof (ConfigError|TransientError|UsageError)\b[^\n]*\n?[^\n]*new ExitError/, file);
  }
});

test('alerts are coloured only as text, to a terminal, without NO_COLOR (io.ts colorOutput decides it for replay, run and watch)', async () => {
  const { main } = await import('../../src/cli.js');
  const replay = async (output: string, tty: boolean, env: NodeJS.ProcessEnv): Promise<string> => {
    const c = capturedIo(env);
    if (tty) Object.assign(c.io.stdout, { isTTY: true });
    assert.equal(await main(['replay', PG_PLAIN, '--output', output], c.io), 0, c.stderr());
    return c.stdout();
  };
  const { NO_COLOR: _n, ...env } = process.env;
  assert.match(await replay('text', true, env), /\x1b\[/);
  assert.doesNotMatch(await replay('text', true, { ...env, NO_COLOR: '1' }), /\x1b\[/);
  assert.doesNotMatch(await replay('text', false, env), /\x1b\[/);
  assert.doesNotMatch(await replay('jsonl', true, env), /\x1b\[/);
});

test('stdin input', async () => {
  const r = await runCli(['replay', '-', '--output', 'jsonl', '--quiet'], { stdin: await readFile(MY_PLAIN, 'utf8') });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(jsonLines(r.stdout).length > 0);
});

test('as a new user: write a rule, validate it, replay a sample, see the alert; break it, see the error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-newuser-'));
  const rule = join(dir, 'my-rules.yaml');
  const readme = await readFile('README.md', 'utf8');
  // The README's own example rule file is what a new user copies.
  const m = /<!-- example-rule -->\s*```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the example rule block');
  await writeFile(rule, m[1]!);
  const v = await runCli(['validate', rule]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /OK/);
  const r = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--rules', rule, '--output', 'jsonl', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const alerts = jsonLines(r.stdout);
  assert.ok(alerts.length > 0, 'the README rule fires on the sample');
  // break it: a typo in an operator and an unknown field, both reported at once with file and line
  await writeFile(rule, m[1]!.replace(/gte?:/, 'greaterThen:').replace('dbUserName', 'dbUser'));
  const broken = await runCli(['validate', rule]);
  assert.equal(broken.code, 2);
  const problems = broken.stderr.split('\n').filter((l) => l.startsWith(rule));
  assert.ok(problems.length >= 2, `every mistake at once:\n${broken.stderr}`);
  for (const p of problems) assert.match(p, new RegExp(`^${rule}:\\d+ \\S+: `));
  const replayBroken = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--rules', rule]);
  assert.equal(replayBroken.code, 2);
  assert.equal(replayBroken.stdout, '');
});

test('the bundled rule pack validates and its embedded tests pass', async () => {
  const v = await runCli(['validate', 'rules']);
  assert.equal(v.code, 0, v.stderr);
  const t = await runCli(['test', 'rules']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^\d+ passed, 0 failed$/m);
});

test('piping into a reader that goes away (| head -1) exits quietly', async () => {
  const { stdout, stderr } = await promisify(execFile)('sh', ['-c', `"${process.execPath}" bin/dasguard.js replay samples/plaintext --output jsonl | head -1; echo "status=\${PIPESTATUS:-done}"`]);
  assert.equal(jsonLines(stdout.split('\n')[0]!).length, 1);
  assert.doesNotMatch(stderr, /EPIPE|internal error/);
});

test('the installed command (bin/dasguard.js, compiled) runs like npm start', async () => {
  const files: string[] = await readdir('dist').catch(() => []);
  assert.ok(files.includes('cli.js'), 'dist/ is built (npm install runs the build; npm test builds too)');
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/dasguard.js', 'replay', 'samples/streams', '--key-file', KEY, '--output', 'jsonl']);
  assert.ok(jsonLines(stdout).length > 0);
  assert.match(stderr, /0 quarantined/);
});

test('without --key-file, replay decrypts through AWS KMS with the standard SDK configuration (loopback KMS)', async () => {
  const { startKmsServer } = await import('../support/kmsServer.js');
  const { LocalKeyProvider } = await import('../../src/keys/LocalKeyProvider.js');
  const kms = await startKmsServer({ keys: await LocalKeyProvider.fromFile(KEY) });
  try {
    await withEnv(
      { AWS_ENDPOINT_URL_KMS: kms.url, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_PROFILE: undefined },
      async () => {
        const r = await runCli(['replay', PG_STREAM, '--output', 'jsonl']);
        assert.equal(r.code, 0, r.stderr);
        const golden = jsonLines(await readFile('samples/expected/postgresql-alerts.jsonl', 'utf8'));
        assert.deepEqual(withoutSource(jsonLines(r.stdout)), golden);
        assert.ok(kms.requests.length > 0, 'KMS was called');
        for (const req of kms.requests) assert.deepEqual(req.encryptionContext, { 'aws:rds:dbc-id': PG.clusterId });
        assert.match(r.stderr, /data keys: \d+ decrypt calls/);
      },
    );
  } finally {
    await kms.close();
  }
});

test('every registered command has help (dasguard CMD --help, -h, help CMD), listed in the top help with its summary', async () => {
  const { COMMANDS, COMMAND_NAMES, loadCommand } = await import('../../src/cli.js');
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  assert.ok(COMMAND_NAMES.length >= 10, COMMAND_NAMES.join(' '));
  for (const name of COMMAND_NAMES) {
    const { synopsis, summary } = COMMANDS[name]!;
    const command = (await loadCommand(name))!;
    assert.equal(command.name, name);
    assert.ok(synopsis === name || synopsis.startsWith(`${name} `), `${name}: its synopsis starts with its name: ${synopsis}`);
    assert.ok(top.stdout.includes(`  ${synopsis}  `) || top.stdout.includes(`  ${synopsis} `), `top help lists ${synopsis}`);
    assert.ok(top.stdout.includes(summary), `top help has the summary of ${name}`);
    const help = await runCli([name, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^Usage: dasguard ${name}\\b`));
    assert.equal((await runCli([name, '-h'])).stdout, help.stdout);
    assert.equal((await runCli(['help', name])).stdout, help.stdout);
  }
  assert.equal((await runCli(['help', 'frobnicate'])).stdout, top.stdout);
});

test('the top help loads no command module (nor the AWS SDK); a command\'s --help loads that command only', async () => {
  // A resolve hook logs every module the compiled CLI (bin/dasguard.js, dist/) loads.
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-loads-'));
  await writeFile(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const r = await next(specifier, context);\n' +
      "  appendFileSync(process.env.LOAD_LOG, r.url + '\\n');\n" +
      '  return r;\n}\n',
  );
  await writeFile(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const loads = async (args: string[]): Promise<string[]> => {
    const log = join(dir, `${args.join('_')}.log`);
    await promisify(execFile)(process.execPath, ['--import', join(dir, 'register.mjs'), 'bin/dasguard.js', ...args], { env: { ...process.env, LOAD_LOG: log } });
    return (await readFile(log, 'utf8')).trim().split('\n');
  };
  const commandModules = (urls: string[]): string[] => urls.flatMap((u) => /\/dist\/commands\/(\w+)\.js$/.exec(u)?.[1] ?? []).filter((m) => m !== 'io' && m !== 'command' && m !== 'options');
  const top = await loads(['--help']);
  assert.ok(top.some((u) => u.endsWith('/dist/cli.js')), top.join('\n'));
  assert.deepEqual(commandModules(top), []);
  assert.deepEqual(top.filter((u) => u.includes('@aws-sdk')), []);
  assert.deepEqual(commandModules(await loads(['validate', '--help'])).filter((m) => m !== 'common'), ['validate']);
});

test("every option in a command's table appears in its help text (or says why not)", async () => {
  const { COMMAND_NAMES, loadCommand } = await import('../../src/cli.js');
  for (const name of COMMAND_NAMES) {
    const command = (await loadCommand(name))!;
    const help = (await runCli([name, '--help'])).stdout;
    for (const [flag, o] of Object.entries(command.options)) {
      if (o.undocumented !== undefined) {
        assert.ok(o.undocumented.length > 10, `${name} --${flag}: undocumented needs a reason`);
        continue;
      }
      assert.match(help, new RegExp(`--${flag}\\b`), `dasguard ${name} --help names --${flag}`);
      if (o.short !== undefined) assert.ok(help.includes(`-${o.short}, --${flag}`) || name === 'stream', `${name}: -${o.short}`);
    }
    // an option listed in the help is in the table: a help line for a flag that was removed would lie
    for (const m of help.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)) assert.ok(m[1]! in command.options, `${name} --help lists --${m[1]} that it does not take`);
  }
});

/**
 * The `dasguard CMD ... --flag` mentions of a Markdown text (```sh blocks, continuation lines joined and comments
 * dropped; inline code spans that start with `dasguard CMD`) whose flag CMD does not declare, or whose CMD is not
 * registered.
 */
function undeclaredFlags(markdown: string, tables: Record<string, string[]>): { found: number; wrong: string[] } {
  const commands: string[] = [];
  for (const m of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of m[1]!.replace(/\\\n/g, ' ').split('\n')) commands.push(...line.replace(/(^|\s)#.*$/, '').split(/[|;&]/));
  }
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/`(dasguard [^`\n]+)`/g)) commands.push(...m[1]!.split(/[|;&]/));
  let found = 0;
  const wrong: string[] = [];
  for (const text of commands) {
    for (const m of text.matchAll(/(?:^|\s)dasguard ([a-z][a-z-]*)(.*)/g)) {
      const [, name, rest] = m as unknown as [string, string, string];
      if (name === 'help') continue;
      found++;
      const flags = tables[name];
      if (flags === undefined) {
        wrong.push(`dasguard ${name}: not a command (${text.trim()})`);
        continue;
      }
      for (const f of rest.matchAll(/(?:^|[\s[(])--([a-z][a-z-]*)/g)) {
        if (!flags.includes(f[1]!) && f[1] !== 'help') wrong.push(`dasguard ${name} --${f[1]}: not a flag of ${name} (${text.trim()})`);
      }
    }
  }
  return { found, wrong };
}

test("run's decoding flags are the input group's (pickOptions): same type, label and check; only run's default and help differ", async () => {
  const { DECODE_FLAGS, INPUT_OPTIONS, decodeOptions } = await import('../../src/commands/options.js');
  const { parseCommandArgs } = await import('../../src/commands/command.js');
  const { runCli: runDeclaration } = await import('../../src/commands/run.js');
  for (const flag of DECODE_FLAGS) {
    const { default: _d, help: _h, ...own }: OptionDecl = runDeclaration.options[flag];
    const { default: _gd, help: _gh, ...group }: OptionDecl = INPUT_OPTIONS[flag];
    assert.deepEqual(own, group, flag);
  }
  const v = parseCommandArgs(runDeclaration, ['--workers', '2']).values;
  assert.deepEqual(decodeOptions(v), { keyFile: undefined, resourceId: undefined, concurrency: 8, workers: 2, redaction: 'literals' });
  assert.throws(() => decodeOptions(parseCommandArgs(runDeclaration, ['--workers', '99']).values), /--workers must be auto or a whole number from 0 to 64/);
});

test('every `dasguard CMD ... --flag` in README.md and docs/ names a flag CMD declares', async () => {
  const { COMMAND_NAMES, loadCommand } = await import('../../src/cli.js');
  const tables: Record<string, string[]> = {};
  for (const name of COMMAND_NAMES) tables[name] = Object.keys((await loadCommand(name))!.options);
  // the check itself finds what it is for
  assert.deepEqual(undeclaredFlags('```sh\ndasguard replay x --colour \\\n  --key-file k  # --not-checked\ndasguard frob\n```\n`dasguard run [--clster ID]`', tables).wrong, [
    'dasguard replay --colour: not a flag of replay (dasguard replay x --colour    --key-file k)',
    'dasguard frob: not a command (dasguard frob)',
    'dasguard run --clster: not a flag of run (dasguard run [--clster ID])',
  ]);
  const docs = ['README.md', ...(await readdir('docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  let found = 0;
  for (const file of docs) {
    const r = undeclaredFlags(await readFile(file, 'utf8'), tables);
    found += r.found;
    assert.deepEqual(r.wrong, [], file);
  }
  assert.ok(found >= 20, `only ${found} dasguard commands found in the docs: is the pattern still right?`);
});

test('every duration flag takes the one grammar (500ms, 1.5s, 30s, 10m, 1h); a bare number says to add a unit', async () => {
  const cases: [string[], string][] = [
    [['run', '--stream', 'aws-rds-das-cluster-X', '--poll-interval', '5'], '--poll-interval'],
    [['run', '--stream', 'aws-rds-das-cluster-X', '--status-interval', '10'], '--status-interval'],
    [['run', '--stream', 'aws-rds-das-cluster-X', '--discovery-interval', '30'], '--discovery-interval'],
    [['run', '--stream', 'aws-rds-das-cluster-X', '--silence', '60'], '--silence'],
    [['run', '--stream', 'aws-rds-das-cluster-X', '--rds-events-interval', '60'], '--rds-events-interval'],
    [['watch', '--cluster', 'prod', '--interval', '60'], '--interval'],
  ];
  for (const [args, flag] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const n = args[args.length - 1]!;
    assert.match(plainErrors(r.stderr), new RegExp(`${flag} must be a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d; got "${n}" \\(add a unit: ${n}s for seconds\\)`));
  }
  const zero = await runCli(['run', '--stream', 'aws-rds-das-cluster-X', '--poll-interval', '0s']);
  assert.equal(zero.code, 2);
  assert.match(plainErrors(zero.stderr), /--poll-interval must be at least 1ms; got "0s"/);
  // the hint is itself accepted: a bare 0 is not told to become 0s (refused too), it is told the least value
  const bareZero = await runCli(['run', '--stream', 'aws-rds-das-cluster-X', '--poll-interval', '0']);
  assert.equal(bareZero.code, 2);
  assert.match(plainErrors(bareZero.stderr), /--poll-interval must be a duration such as .*; got "0" \(add a unit; the least accepted is 1ms\)$/m);
  assert.doesNotMatch(bareZero.stderr, /0s for seconds/);
  const { durationProblem, parseDuration, DURATION_PATTERN } = await import('../../src/config/duration.js');
  for (const [text, min] of [['0', 1], ['0.0001', 1], ['5', 1], ['0', 0], ['2', 5000]] as const) {
    const hinted = /add a unit: (\S+) for seconds|the least accepted is (\S+)\)/.exec(durationProblem(text, min)!);
    const suggestion = hinted?.[1] ?? hinted?.[2];
    assert.ok(suggestion !== undefined && durationProblem(suggestion, min) === undefined, `${text} (min ${min}): ${suggestion}`);
  }
  // the schema's pattern and the parser are one grammar
  for (const t of ['1', '1.5s', '10m', '1h', '250ms', '1.s', 's', '5 s', '1d', '0.25h']) {
    assert.equal(new RegExp(DURATION_PATTERN).test(t), parseDuration(t) !== undefined, t);
  }
  const soon = await runCli(['watch', '--cluster', 'prod', '--interval', 'soon']);
  assert.equal(soon.code, 2);
  assert.match(plainErrors(soon.stderr), /--interval must be a duration such as .*; got "soon"$/m);
});

test('--silence 0 (or 0s) turns the silence alert off; the duration flags parse to milliseconds', async () => {
  const { durationOption } = await import('../../src/commands/options.js');
  const { parseCommandArgs } = await import('../../src/commands/command.js');
  const { runCli: runDeclaration } = await import('../../src/commands/run.js');
  const { watchCli } = await import('../../src/commands/watch.js');
  for (const silence of ['0', '0s', '0ms']) assert.equal(durationOption('silence', silence, { offWithZero: true }), 0, silence);
  assert.equal(durationOption('silence', '2m', { offWithZero: true }), 120_000);
  assert.equal(durationOption('poll-interval', '1.5s'), 1500);
  assert.equal(durationOption('poll-interval', '250ms'), 250);
  assert.throws(() => durationOption('status-interval', '0'), /--status-interval must be a duration/);
  // the defaults are durations of the same grammar
  const run = parseCommandArgs(runDeclaration, []).values;
  assert.deepEqual(
    [run['poll-interval'], run['status-interval'], run['discovery-interval'], run['rds-events-interval']].map((d) => durationOption('d', d)),
    [1000, 10_000, 30_000, 60_000],
  );
  assert.equal(durationOption('silence', run.silence, { offWithZero: true }), 60_000);
  assert.equal(durationOption('interval', parseCommandArgs(watchCli, []).values.interval), 60_000, 'watch polls every 60s by default');
});

test('settings are layered in one place: flag over dasguard.yaml over default; the Lambda\'s variables are LAMBDA_ENV\'s alone', async () => {
  const { layered, outboxDir, deliveryConfigFile, DEFAULT_OUTBOX_DIR, SETTINGS } = await import('../../src/config/layers.js');
  assert.deepEqual(layered({ flag: 'a', file: 'c' }, 'd'), { value: 'a', from: 'flag' });
  assert.deepEqual(layered({ file: 'c' }, 'd'), { value: 'c', from: 'file' });
  assert.deepEqual(layered({}, 'd'), { value: 'd', from: 'default' });
  assert.equal(outboxDir({ flag: 'x', file: 'y' }), 'x');
  assert.equal(outboxDir({ file: 'y' }), 'y');
  assert.equal(outboxDir({}), DEFAULT_OUTBOX_DIR);
  // no layered setting reads a DASGUARD_* variable: every one is defined once, in the Lambda's spec (the one the CLI
  // reads too, DASGUARD_LOG_LEVEL, is the logger's name, which that spec uses)
  assert.deepEqual(Object.values(SETTINGS).filter((s) => 'env' in s), []);
  assert.equal((await readFile('src/config/layers.ts', 'utf8')).match(/['"]DASGUARD_[A-Z_]+['"]/g), null, 'layers.ts names no variable');
  // --redaction is checked like every one-of flag; DASGUARD_REDACTION (the Lambda's) by its spec, over the same
  // modes and default (test/unit/config.test.ts has its message)
  const { redactionOption } = await import('../../src/commands/options.js');
  const { LAMBDA_ENV, checkLambdaEnv } = await import('../../src/config/lambdaEnv.js');
  assert.equal(redactionOption(undefined), SETTINGS.redaction.default);
  assert.equal(checkLambdaEnv({}).settings?.redaction, SETTINGS.redaction.default);
  assert.equal(redactionOption('full'), 'full');
  assert.throws(() => redactionOption('some'), { name: 'UsageError', message: '--redaction must be one of none, literals, full; got "some"' });
  const { REDACTION_MODES } = await import('../../src/redaction/index.js');
  assert.equal(LAMBDA_ENV.settings.redaction.enum, REDACTION_MODES, 'the flag and the variable take the same modes');
  assert.equal(deliveryConfigFile({ flag: 'my.yaml' }, { implicit: true }), 'my.yaml');
  assert.equal(deliveryConfigFile({ flag: 'other.yaml' }, { implicit: false }), 'other.yaml');
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-layers-'));
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    assert.equal(deliveryConfigFile({}, { implicit: true }), undefined, 'no ./dasguard.yaml: no delivery config');
    await writeFile('dasguard.yaml', 'sinks: {}\n');
    assert.equal(deliveryConfigFile({}, { implicit: true }), 'dasguard.yaml');
    assert.equal(deliveryConfigFile({}, { implicit: false }), undefined, 'the Lambda reads no implicit file');
  } finally {
    process.chdir(cwd);
  }
  const bad = await runCli(['decode', PG_PLAIN, '--redaction', 'some']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^dasguard: --redaction must be one of none, literals, full; got "some"$/m);
});

test('a --resource-id that is not a DAS resource id is a usage error at start (exit 2, naming the flag), as DASGUARD_RESOURCE_ID is refused at init', async () => {
  for (const bad of ['cluster-', 'cluster-a b', 'prod-cluster']) {
    for (const args of [
      ['replay', PG_STREAM, '--key-file', KEY, '--resource-id', bad],
      ['decode', PG_STREAM, '--key-file', KEY, '--resource-id', bad],
      ['run', '--stream', `aws-rds-das-${PG.clusterId}`, '--resource-id', bad],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
      assert.equal(r.stdout, '', 'nothing was processed');
      assert.match(plainErrors(r.stderr), new RegExp(`^dasguard: --resource-id: expected a DAS resource id, cluster-… or db-… .*, got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`, 'm'));
    }
  }
  // and a rule file with problems is refused in the words the Lambda uses (src/rules/load.ts rulesFailedMessage)
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-badrules-'));
  await writeFile(join(dir, 'bad.yaml'), 'rules:\n  - id: x\n    description: d\n    severity: urgent\n    when: {dbUserName: a}\n    message: m\n');
  const r = await runCli(['replay', PG_PLAIN, '--rules', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^dasguard: 1 problem in the rule files; nothing was evaluated$/m);
});

test('a local file overrides bundled rules without editing them: its alerts show the new severity, validate --explain shows who set what', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-overrides-'));
  const local = join(dir, 'local.yaml');
  await writeFile(local, ['overrides:', '  - rule: ddl-by-privileged-user', '    severity: critical', '  - rule: privilege-change', '    enabled: false', ''].join('\n'));
  const base = jsonLines((await runCli(['replay', 'samples/streams', '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', '--quiet'])).stdout);
  const r = await runCli(['replay', 'samples/streams', '--key-file', KEY, '--rules', 'rules', '--rules', local, '--output', 'jsonl', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const alerts = jsonLines(r.stdout) as { ruleId?: string; severity?: string }[];
  const ddl = alerts.filter((a) => a.ruleId === 'ddl-by-privileged-user');
  assert.ok(ddl.length > 0);
  assert.equal(ddl.length, (base as { ruleId?: string }[]).filter((a) => a.ruleId === 'ddl-by-privileged-user').length);
  assert.ok(ddl.every((a) => a.severity === 'critical'));
  assert.equal(alerts.filter((a) => a.ruleId === 'privilege-change').length, 0);

  const x = await runCli(['validate', 'rules', local, '--explain', 'ddl-by-privileged-user']);
  assert.equal(x.code, 0, x.stderr);
  assert.match(x.stdout, /^rule ddl-by-privileged-user \(rules\/ddl\.yaml:3, target activity\)\n {2}severity: critical\n {2}enabled: true\n/);
  assert.match(x.stdout, /dbUserName inIgnoreCase \["postgres",/, 'the list is expanded');
  assert.match(x.stdout, /\n {4}severity +rules\/ddl\.yaml:5 {2}set\n/);
  assert.ok(x.stdout.includes(`severity                 ${local}:3  override: critical`), x.stdout);
  // A correlation: what it counts, over what, and on which base rules (it has no condition of its own).
  const corr = await runCli(['validate', 'rules', '--explain', 'brute-force']);
  assert.equal(corr.code, 0, corr.stderr);
  assert.match(corr.stdout, /\n {2}correlation: event_count >= 10 within 1m per \[clusterId, remoteHost\], quiet 1m per group after firing\n {2}base rules: authentication-failure\n/);
  assert.doesNotMatch(corr.stdout, /when \(macros/);
  const unknown = await runCli(['validate', 'rules', local, '--explain', 'ddl-by-privileged']);
  assert.equal(unknown.code, 2);
  // every bundled file and the local one
  const files = (await readdir('rules')).filter((f) => f.endsWith('.yaml')).length + 1;
  assert.match(unknown.stderr, new RegExp(`no rule 'ddl-by-privileged' in ${files} rule files \\(did you mean 'ddl-by-privileged-user'\\?\\)`));

  await writeFile(local, 'overrides:\n  - rule: ddl-by-privileged\n    severity: low\n');
  const bad = await runCli(['validate', 'rules', local, '--explain', 'ddl-by-privileged-user']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, new RegExp(`^${local}:2 ddl-by-privileged: override of unknown rule 'ddl-by-privileged' \\(did you mean 'ddl-by-privileged-user'\\?\\)$`, 'm'));
});

test('bare `dasguard` prints the help on stderr and exits 2 (a usage error); `dasguard --help` prints it on stdout, exit 0', async () => {
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /^Usage: dasguard <command> \[options\]$/m);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, bare.stderr);
});

test('--rules everywhere: repeated, comma-separated, or (validate, test) positional: the same rule set', async () => {
  const files = (out: string) => /in (\d+) files?/.exec(out)?.[1];
  const comma = await runCli(['validate', '--rules', 'rules/auth.yaml,rules/common.yaml']);
  assert.equal(comma.code, 0, comma.stderr);
  assert.equal(files(comma.stdout), '2');
  assert.equal((await runCli(['validate', '--rules', 'rules/auth.yaml', '--rules', 'rules/common.yaml'])).stdout, comma.stdout);
  assert.equal((await runCli(['validate', 'rules/auth.yaml', 'rules/common.yaml'])).stdout, comma.stdout);
  const dir = await runCli(['validate', '--rules', 'rules']);
  assert.equal(dir.code, 0, dir.stderr);
  assert.ok(Number(files(dir.stdout)) > 2, dir.stdout);
  const tests = await runCli(['test', '--rules', 'rules/auth.yaml,rules/common.yaml']);
  assert.equal(tests.code, 0, tests.stderr);
  assert.deepEqual(tests.stdout, (await runCli(['test', 'rules/auth.yaml', 'rules/common.yaml'])).stdout);
  // replay reads the same list (a missing file in it is named)
  const missing = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--rules', 'rules/auth.yaml,rules/nope.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /rules\/nope\.yaml/);
});

test('--output: json everywhere (JSON Lines for alert streams), jsonl accepted as the same; help says so', async () => {
  const json = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'json', '--quiet']);
  assert.equal(json.code, 0, json.stderr);
  const jsonl = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'jsonl', '--quiet']);
  assert.ok(jsonLines(json.stdout).length > 0);
  assert.deepEqual(withoutSource(jsonLines(json.stdout)).map((a) => a.id), withoutSource(jsonLines(jsonl.stdout)).map((a) => a.id));
  const bad = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--output must be one of text, json, jsonl; got "xml"/);
  const outboxDir = await mkdtemp(join(tmpdir(), 'dasguard-outbox-json-'));
  const doc = await runCli(['outbox', 'status', '--outbox-dir', outboxDir, '--output', 'jsonl']);
  assert.equal(doc.code, 0, doc.stderr);
  assert.equal(JSON.stringify(JSON.parse(doc.stdout)), JSON.stringify(JSON.parse((await runCli(['outbox', 'status', '--outbox-dir', outboxDir, '--output', 'json'])).stdout)));
  for (const name of ['replay', 'run', 'watch', 'status', 'outbox']) {
    const help = (await runCli([name, '--help'])).stdout;
    assert.match(help, /--output text\|json\b/, `${name} --help`);
    assert.match(help, /jsonl: the same/, `${name} --help`);
  }
});

test('decode\'s summary does not speak of alerts (it evaluates no rules); replay\'s does', async () => {
  const decode = await runCli(['decode', PG_STREAM, '--key-file', KEY]);
  assert.equal(decode.code, 0, decode.stderr);
  assert.match(decode.stderr, /^dasguard decode: \d+ records \(\d+ encrypted\), \d+ activity events, \d+ heartbeats, 0 quarantined in /m);
  assert.doesNotMatch(decode.stderr, /alert/);
  const replay = await runCli(['replay', PG_STREAM, '--key-file', KEY]);
  assert.match(replay.stderr, /^dasguard replay: .*, \d+ alerts, 0 quarantined/m);
});

test('--slack-webhook-url alone: alerts go to Slack AND still print on stdout (replay, and watch, which now delivers like run)', async (t) => {
  const hook = await startWebhookServer();
  const rds = await startRdsServer({ clusters: [clusterModel({ identifier: 'hooked', activityStream: { status: 'started' } })] });
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-slack-stdout-'));
  const saved = { ...process.env };
  // the SDK reads its configuration from the process environment
  process.env = { ...process.env, ...loopbackEnv({ rds: rds.url }), AWS_MAX_ATTEMPTS: '1' };
  t.after(async () => {
    process.env = saved;
    await hook.close();
    await rds.close();
  });
  const env = { ...process.env, NO_COLOR: '1' };

  const plain = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'json', '--quiet']);
  const replay = await runCli(['replay', PG_STREAM, '--key-file', KEY, '--output', 'json', '--quiet', '--slack-webhook-url', `${hook.url}/replay`, '--outbox-dir', join(dir, 'replay')], { env });
  assert.equal(replay.code, 0, replay.stderr);
  const printed = jsonLines(replay.stdout);
  assert.deepEqual(printed.map((a) => a.id), jsonLines(plain.stdout).map((a) => a.id), 'stdout as without the flag');
  assert.equal(hook.received.filter((r) => r.path === '/replay').length, printed.length, 'and every alert in Slack');

  rds.addEvent({ sourceIdentifier: 'hooked', date: new Date(Date.now() - 60_000), message: 'Activity stream records might be lost.' });
  const watch = await runCli(
    ['watch', '--cluster', 'hooked', '--once', '--state-dir', join(dir, 'state'), '--slack-webhook-url', `${hook.url}/watch`, '--outbox-dir', join(dir, 'watch')],
    { env },
  );
  assert.equal(watch.code, 0, watch.stderr);
  assert.match(watch.stdout, /^\S+ HIGH +das-loss-window /m);
  assert.equal(hook.received.filter((r) => r.path === '/watch').length, 1);
  assert.match(watch.stderr, /delivery: \d+ deliveries done/);
  assert.match((await runCli(['watch', '--help'])).stdout, /--config PATH[\s\S]*--sns-topic-arn ARN[\s\S]*--slack-webhook-url U/);
});

test('bin/dasguard.js sets the heap growing factor first, and V8 takes it without a word', () => {
  // bin/dasguard.js sets it first: a V8 that did not know the flag would say so on stderr (and ignore it).
  const r = spawnSync(process.execPath, [new URL('../../bin/dasguard.js', import.meta.url).pathname, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /\d+\.\d+\.\d+/);
  assert.equal(r.stderr, '');
});
