/**
 * The Sink contract (src/delivery/types.ts), one suite run against every sink in src/delivery/sinks/: console
 * (text and JSON Lines), file, SNS (the real SNSClient against the loopback SNS), Slack and webhook (fetch against
 * the loopback webhook server). What every sink must do:
 * - deliver a batch of up to `maxBatch` alerts: one `{ ok: true }` per alert, in order, each alert once at the
 *   receiver;
 * - report a transient failure as retryable and a permanent one as not, one result per alert, without throwing,
 *   its error naming the sink and holding none of the config's secrets; and deliver again afterwards;
 * - deliver what the route redacted and nothing more (no literal of the statement reappears);
 * - keep attacker-controlled fields (message, user, statement...) data in its medium: one record per alert, no
 *   raw control characters (in console and file lines, no raw bidi override either), no live Slack mentions or
 *   links, and the field itself intact where the medium is JSON;
 * - close (twice, too) once its sends are done.
 * Every sink type dasguard.yaml accepts (the sink variants of CONFIG_SPEC) must have a fixture here: a test fails
 * otherwise, so a new sink cannot skip the suite.
 * Per-sink details (SNS batching, Slack blocks, redirects) are in delivery-sinks.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConsoleSink, FileSink, SlackSink, SnsSink, WebhookSink } from '../../src/delivery/sinks/index.js';
import type { DeliveredAlert, Sink } from '../../src/delivery/types.js';
import type { SinkConfig } from '../../src/delivery/config.js';
import { CONFIG_SPEC } from '../../src/delivery/configSchema.js';
import { redactAlert } from '../../src/redaction/index.js';
import { makeAlert, SECRET_LITERAL } from '../support/alerts.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';

process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'secret-test';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:dasguard-alerts';
const URL_SECRET = 'XXXXURLSECRET';
const HEADER_SECRET = 'tok-HEADERSECRET';

/** What one sink under test needs from its receiver. */
interface Fixture {
  readonly name: string;
  make(): Sink;
  /** What reached the receiver since the fixture was made: one entry per message, its raw text. */
  delivered(): string[];
  /** The id of the alert a delivered message carries. */
  idOf(raw: string): string;
  /** The next send fails in a way that may clear (a 5xx, a full disk), or undefined when the sink cannot fail so. */
  transient?: (sink: () => Sink) => Sink;
  /** The next send fails in a way retrying cannot fix (a 4xx, a missing directory). */
  permanent?: (sink: () => Sink) => Sink;
  /** Why a failure case does not apply. */
  cannotFail?: string;
  /** Lines read by people and log pipelines (console, file): no raw C1, separator or bidi character either. */
  lines?: true;
  /** The medium's own check of a hostile alert as delivered. */
  hostile(raw: string, alert: DeliveredAlert): void;
}

let sns: SnsServer;
let hook: WebhookServer;
let dir: string;
before(async () => {
  sns = await startSnsServer();
  hook = await startWebhookServer();
  dir = await mkdtemp(join(tmpdir(), 'dasguard-sink-contract-'));
});
after(async () => {
  await sns.close();
  await hook.close();
});

/** A stream whose lines are kept. */
function lines(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
const split = (text: string) => text.split('\n').filter((l) => l !== '');
const jsonId = (raw: string) => (JSON.parse(raw) as { id: string }).id;

/** The alert, parsed back from a JSON medium, holds the hostile fields exactly (data, not structure). */
function roundTrips(raw: string, alert: DeliveredAlert): void {
  const got = JSON.parse(raw) as DeliveredAlert;
  assert.equal(got.message, alert.message);
  assert.equal(got.event.dbUserName, alert.event.dbUserName);
  assert.equal(got.event.commandText, alert.event.commandText);
}

/** Each fixture's name and the sink type it tests (the receivers exist only once `before` ran: fixtures() builds them). */
const FIXTURE_TYPES = {
  'console (text)': 'console',
  'console (jsonl)': 'console',
  file: 'file',
  sns: 'sns',
  slack: 'slack',
  webhook: 'webhook',
} as const satisfies Record<string, SinkConfig['type']>;

test('every sink type of dasguard.yaml has a fixture in this suite (a new sink cannot skip it)', () => {
  const sinks = CONFIG_SPEC.properties.sinks;
  assert.ok(sinks?.type === 'map' && sinks.values.type === 'tagged', 'dasguard.yaml sinks: a map of tagged variants');
  const missing = Object.keys(sinks.values.variants).filter((type) => !Object.values(FIXTURE_TYPES).includes(type as SinkConfig['type']));
  assert.deepEqual(missing, [], `sink types without a conformance fixture: add one to fixtures() and FIXTURE_TYPES`);
  assert.deepEqual(fixtures().map((f) => f.name).sort(), Object.keys(FIXTURE_TYPES).sort(), 'FIXTURE_TYPES names every fixture');
});

let serial = 0;
const fixtures = (): Fixture[] => [
  ...(['text', 'jsonl'] as const).map((format): Fixture => {
    const out = lines();
    return {
      name: `console (${format})`,
      lines: true,
      make: () => new ConsoleSink('console', out.stream, format),
      delivered: () => split(out.text()),
      idOf: (raw) => (format === 'jsonl' ? jsonId(raw) : /\[([0-9a-f]+)\]$/.exec(raw)![1]!),
      cannotFail: "the process's own stdout or stderr: a write is buffered, and a broken pipe ends the process",
      hostile(raw, alert) {
        if (format === 'jsonl') roundTrips(raw, alert);
        else assert.ok(raw.includes('\\x1b[2J') && raw.includes('\\u202e'), `the escape sequence and the override are shown, not sent: ${raw}`);
      },
    };
  }),
  ((): Fixture => {
    const path = join(dir, `alerts-${++serial}.jsonl`);
    return {
      name: 'file',
      lines: true,
      make: () => new FileSink('file', { type: 'file', path }),
      delivered: () => (existsSync(path) ? split(readFileSync(path, 'utf8')) : []),
      idOf: jsonId,
      transient: () => new FileSink('file', { type: 'file', path: '/dev/full' }), // ENOSPC on every write
      permanent: () => new FileSink('file', { type: 'file', path: join(dir, 'no-such-dir', 'alerts.jsonl') }),
      hostile: roundTrips,
    };
  })(),
  ((): Fixture => {
    const since = sns.messages.length;
    return {
      name: 'sns',
      make: () => new SnsSink('sns', { type: 'sns', topicArn: TOPIC, endpoint: sns.url }),
      delivered: () => sns.messages.slice(since).map((m) => m.message),
      idOf: jsonId,
      transient: (sink) => (sns.failNext(1, 'InternalError', 500), sink()),
      permanent: (sink) => (sns.failNext(1, 'AuthorizationError', 403), sink()),
      hostile(raw, alert) {
        roundTrips(raw, alert);
        const m = sns.messages.at(-1)!;
        assert.match(m.subject!, /^[\x20-\x7e]{1,99}$/, 'the Subject is printable ASCII, one line');
      },
    };
  })(),
  ...(['slack', 'webhook'] as const).map((type): Fixture => {
    const since = hook.received.length;
    const url = `${hook.url}/${type}/${URL_SECRET}`;
    const make = () =>
      type === 'slack' ? new SlackSink('slack', { type, url }) : new WebhookSink('webhook', { type, url, headers: { Authorization: `Bearer ${HEADER_SECRET}` } });
    return {
      name: type,
      make,
      delivered: () => hook.received.slice(since).map((r) => r.raw),
      idOf: (raw) => (type === 'webhook' ? jsonId(raw) : /alert ([0-9a-f]{32})/.exec(raw)![1]!),
      transient: (sink) => (hook.failNext(1, 503), sink()),
      permanent: (sink) => (hook.failNext(1, 404), sink()),
      hostile(raw, alert) {
        if (type === 'webhook') return roundTrips(raw, alert);
        for (const live of ['<!channel>', '<@U123>', '<https://evil.example|click>']) assert.ok(!raw.includes(live), `${live} is live in ${raw}`);
        assert.ok(raw.includes('&lt;!channel&gt;'), 'the mention is shown as text');
      },
    };
  }),
];

/** Numbered alerts whose ids the text console line shows as `(test:N)`; others carry their id in the message. */
const alert = (i: number): DeliveredAlert => makeAlert(i);
const idsOf = (_f: Fixture, alerts: readonly DeliveredAlert[]) => alerts.map((a) => a.id);

/** An alert whose attacker-controlled fields try to forge lines, terminal sequences, JSON, mentions and links. */
function hostileAlert(i: number): DeliveredAlert {
  const evil = `x\n{"id":"forged"}\r\x1b[2J\u202e\u2028\x85 <!channel> <@U123> <https://evil.example|click> "}]`;
  const base = makeAlert(i);
  return { ...base, message: `dropped by ${evil}`, event: { ...base.event, dbUserName: evil, commandText: `SELECT '${evil}'` } };
}

describe('the Sink contract', () => {
  for (const [name, type] of Object.entries(FIXTURE_TYPES)) {
    describe(name, () => {
      const fixture = () => fixtures().find((f) => f.name === name)!;

      test('delivers a batch of up to maxBatch alerts: one ok per alert, in order, each once at the receiver', async () => {
        const f = fixture();
        const sink = f.make();
        const n = Math.min(sink.maxBatch, 12);
        assert.ok(n >= 1);
        const alerts = Array.from({ length: n }, (_, i) => alert(100 + i));
        assert.deepEqual(await sink.send(alerts), alerts.map(() => ({ ok: true })));
        assert.deepEqual(await sink.send([alert(200)]), [{ ok: true }]);
        await sink.close();
        assert.deepEqual(f.delivered().map(f.idOf), idsOf(f, [...alerts, alert(200)]));
        assert.equal(typeof sink.name, 'string');
        assert.equal(sink.type, type, 'the fixture tests the sink type it is listed under');
      });

      for (const kind of ['transient', 'permanent'] as const) {
        test(`a ${kind} failure is reported per alert as ${kind === 'transient' ? '' : 'not '}retryable, names the sink, hides secrets; the sink delivers again`, async (t) => {
          const f = fixture();
          const arrange = f[kind];
          if (!arrange) return t.skip(f.cannotFail);
          const make = () => f.make();
          const failing = arrange(make);
          const alerts = [alert(300)];
          const results = await failing.send(alerts);
          assert.equal(results.length, alerts.length);
          for (const r of results) {
            assert.ok(!r.ok, JSON.stringify(r));
            assert.equal(r.retryable, kind === 'transient', r.error);
            assert.ok(r.error.startsWith(`${failing.type} sink '${failing.name}'`), r.error);
            for (const secret of [URL_SECRET, HEADER_SECRET]) assert.ok(!r.error.includes(secret), r.error);
          }
          await failing.close();
          const sink = f.make();
          assert.deepEqual(await sink.send([alert(301)]), [{ ok: true }], 'the next send delivers');
          await sink.close();
          assert.deepEqual(f.delivered().map(f.idOf), idsOf(f, [alert(301)]));
        });
      }

      test("delivers the route's redaction and nothing more: no literal of the statement reaches the receiver", async () => {
        const f = fixture();
        const sink = f.make();
        const redacted = redactAlert(alert(400), 'literals');
        assert.ok(!JSON.stringify(redacted).includes(SECRET_LITERAL), 'the redacted alert holds no literal');
        assert.deepEqual(await sink.send([redacted]), [{ ok: true }]);
        await sink.close();
        const got = f.delivered();
        assert.equal(got.length, 1);
        assert.ok(!got[0]!.includes(SECRET_LITERAL) && !got[0]!.includes('4111111111111111'), got[0]);
      });

      test('attacker-controlled fields stay data: one record per alert, no raw control character, nothing live', async () => {
        const f = fixture();
        const sink = f.make();
        const evil = hostileAlert(500);
        assert.deepEqual(await sink.send([evil]), [{ ok: true }]);
        await sink.close();
        const got = f.delivered();
        assert.equal(got.length, 1, `one record, none forged: ${JSON.stringify(got)}`);
        assert.doesNotMatch(got[0]!, /[\x00-\x1f]/, 'no raw control character');
        // The characters JSON leaves raw but terminals act on (util/escape.ts): escaped where people read lines.
        if (f.lines) assert.doesNotMatch(got[0]!, /[\x7f-\x9f\u2028\u2029\u202a-\u202e]/, 'no raw C1, separator or bidi character');
        assert.equal(f.idOf(got[0]!), idsOf(f, [evil])[0]);
        f.hostile(got[0]!, evil);
      });

      test('close resolves after the sends, and again when called twice', async () => {
        const f = fixture();
        const sink = f.make();
        await sink.send([alert(600)]);
        await sink.close();
        await sink.close();
        assert.equal(f.delivered().length, 1, 'what was sent is at the receiver when close resolves');
      });
    });
  }
});
