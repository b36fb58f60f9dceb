/**
 * `npm run local-stack [-- OPTIONS]`: everything `dasguard run` and alert delivery talk to, on loopback, for
 * trying dasguard without an AWS account:
 *  - kinesalite (a real Kinesis implementation) with the demo cluster's DAS stream (2 shards; --shards N);
 *  - dynalite (a DynamoDB implementation, in memory) for `run --coordination dynamodb --lease-table NAME`;
 *  - the loopback KMS (test/support/kmsServer.ts), decrypting data keys with samples/demo-master-key.json;
 *  - the loopback RDS (test/support/rdsServer.ts) with the demo cluster `dasguard-demo`, its stream `started`;
 *  - the loopback SNS (test/support/snsServer.ts) and a Slack incoming-webhook receiver
 *    (test/support/webhookServer.ts): one line per message they accept (sink, alert id, rule, severity).
 * Prints the environment to export and a dasguard.yaml for the local sinks, then (with --put N) puts N encrypted
 * sample records, again every --put-every seconds if given. Every record put carries the time it is put (its events
 * keep their offsets within the record; the gaps between the sample's records, among them its 8-day jump, are
 * not replayed), so `run` sees current activity with new alert ids, as from a real database.
 * `--show-bodies` prints each message the receivers accept in full (the SNS message, the Slack payload).
 *
 * Trying failures without signals or keypresses: `--slack-down-after S --slack-down-for S` (same for `--sns-`)
 * refuses connections for a while; `--rds-event 'S:message'` (repeatable) adds an RDS event for the cluster S
 * seconds after start; and a small admin endpoint on loopback does the same on demand:
 *   curl -d 'message' $ADMIN/rds-event        curl -X POST '$ADMIN/down?sink=slack&seconds=60'
 *   curl $ADMIN/stats                          (received, unique, duplicates per sink)
 * Runs until Ctrl-C, then prints the counts. Demo data only: nothing here is a real secret.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeRecord } from '../src/codec/encode.js';
import { terminalLines, terminalSafe } from '../src/util/escape.js';
import { errorMessage } from '../src/errors.js';
import { openLog } from '../src/log/logger.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { startKmsServer } from '../test/support/kmsServer.js';
import { clusterModel, startRdsServer } from '../test/support/rdsServer.js';
import { startSnsServer } from '../test/support/snsServer.js';
import { startWebhookServer } from '../test/support/webhookServer.js';
import { FAKE_CREDENTIALS, REGION, createStream, kinesisClient, putRecords, startKinesalite } from '../test/support/kinesis.js';
import { startDynalite } from '../test/support/leases.js';
import { PG, dasTime, postgresSample, type SampleRecord } from './sampleData.js';

const USAGE = `usage: npm run local-stack -- [--put N] [--put-every SECONDS] [--shards N] [--show-bodies]
    [--slack-down-after SECONDS --slack-down-for SECONDS] [--sns-down-after SECONDS --sns-down-for SECONDS]
    [--rds-event 'SECONDS:message' ...]`;

const { values } = parseArgs({
  options: {
    put: { type: 'string', default: '0' },
    'put-every': { type: 'string' },
    'slack-down-after': { type: 'string' },
    'slack-down-for': { type: 'string' },
    'sns-down-after': { type: 'string' },
    'sns-down-for': { type: 'string' },
    'rds-event': { type: 'string', multiple: true, default: [] },
    'show-bodies': { type: 'boolean', default: false },
    shards: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}
// The stack's own problems on stderr, through the one logger (JSON lines unless stderr is a terminal).
const { log } = openLog(process.stderr);
const usage = (problem: string): never => {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
};
const seconds = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) usage(`--${name} must be a number of seconds, not "${v}"`);
  return n;
};
const toPut = Number(values.put);
if (!Number.isInteger(toPut) || toPut < 0) usage(`--put must be a whole number, not "${values.put}"`);
const every = seconds('put-every', values['put-every']);
const shardCount = Number(values.shards);
if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 50) usage(`--shards must be a whole number from 1 to 50, not "${values.shards}"`);
if (every !== undefined && !(every > 0)) usage('--put-every must be more than 0 seconds');
const outages: { sink: 'slack' | 'sns'; after: number; for: number }[] = [];
for (const sink of ['slack', 'sns'] as const) {
  const after = seconds(`${sink}-down-after`, values[`${sink}-down-after`]);
  const span = seconds(`${sink}-down-for`, values[`${sink}-down-for`]);
  if ((after === undefined) !== (span === undefined)) usage(`--${sink}-down-after and --${sink}-down-for go together`);
  if (after !== undefined && span !== undefined) outages.push({ sink, after, for: span });
}
const scheduledEvents = values['rds-event'].map((spec) => {
  const m = /^(\d+(?:\.\d+)?):(.+)$/s.exec(spec);
  if (m === null) return usage(`--rds-event takes 'SECONDS:message', not "${spec}"`);
  return { after: Number(m[1]), message: m[2]! };
});

const CLUSTER = 'dasguard-demo';
const STREAM = `aws-rds-das-${PG.clusterId}`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:111122223333:dasguard-alerts`;
// by the script's own path: the stack also starts from another directory (its .dasguard/ then goes there)
const keys = LocalKeyProvider.fromFile(fileURLToPath(new URL('../samples/demo-master-key.json', import.meta.url)));

const kinesalite = await startKinesalite();
const dynalite = await startDynalite();
const kms = await startKmsServer({ keys });
const rds = await startRdsServer({
  clusters: [clusterModel({ identifier: CLUSTER, resourceId: PG.clusterId, engine: 'aurora-postgresql', activityStream: { status: 'started', streamName: STREAM } })],
});
const sns = await startSnsServer();
const slack = await startWebhookServer();
const slackUrl = `${slack.url}/services/T0LOCAL/B0LOCAL/local-demo-token`;
// The loopback RDS settles a started/stopped stream (and emits RDS-EVENT-0179/0180) when it is described, as a
// real cluster settles on its own: describe it every 2 s while a change is pending, so `stream stop` is noticed.
const settler = setInterval(() => {
  if (![...rds.clusters.values()].some((c) => c.pending !== undefined)) return;
  void fetch(rds.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 local-stack' },
    body: 'Action=DescribeDBClusters&Version=2014-10-31',
  })
    .then((r) => r.arrayBuffer())
    .catch((err: unknown) => log({ level: 'warn', msg: 'describing the loopback RDS failed', error: errorMessage(err) }));
}, 2000);
const client = kinesisClient(kinesalite.url);
await createStream(client, STREAM, shardCount);

const stamp = () => new Date().toISOString().slice(11, 19);

// --- what the receivers accept, one line per message --------------------------------------------------------
const receivers = {
  sns: { received: 0, ids: new Set<string>(), duplicates: 0, down: false },
  slack: { received: 0, ids: new Set<string>(), duplicates: 0, down: false },
};
function report(sink: 'sns' | 'slack', id: string, rule: string, severity: string, body: unknown): void {
  const r = receivers[sink];
  r.received++;
  const dup = r.ids.has(id);
  if (dup) r.duplicates++;
  r.ids.add(id);
  // what dasguard sent holds database users' text: made terminal-safe before it is printed
  console.log(terminalSafe(`${stamp()} ${sink.padEnd(5)} ${id} ${rule} ${severity}${dup ? '  (DUPLICATE)' : ''}`));
  if (values['show-bodies']) console.log(terminalLines(indent(JSON.stringify(body, null, 2))));
}
const indent = (text: string): string => text.replace(/^/gm, '    ');
let snsSeen = 0;
let slackSeen = 0;
function drainReceivers(): void {
  for (; snsSeen < sns.messages.length; snsSeen++) {
    const m = sns.messages[snsSeen]!;
    let id = '?';
    let body: unknown = m.message;
    try {
      body = JSON.parse(m.message) as unknown;
      id = String((body as { id?: unknown }).id ?? '?');
    } catch {
      // not an alert: shown as '?', its body as the text it is
    }
    report('sns', id, m.attributes.ruleId?.value ?? '?', m.attributes.severity?.value ?? '?', body);
  }
  for (; slackSeen < slack.received.length; slackSeen++) {
    const body = slack.received[slackSeen]!.body as { text?: string; blocks?: { type: string; elements?: { text?: string }[] }[] };
    const head = /^\[([A-Z]+)\] ([^:]+):/.exec(body.text ?? '');
    const context = body.blocks?.find((b) => b.type === 'context')?.elements?.[0]?.text ?? '';
    report('slack', /alert (\S+)/.exec(context)?.[1] ?? '?', head?.[2] ?? '?', head?.[1]?.toLowerCase() ?? '?', body);
  }
}
const receiverTimer = setInterval(drainReceivers, 200);

async function takeDown(sink: 'sns' | 'slack', forSeconds: number): Promise<void> {
  const r = receivers[sink];
  if (r.down) return;
  const server = sink === 'sns' ? sns : slack;
  drainReceivers();
  await server.down();
  r.down = true;
  console.log(`${stamp()} ${sink} receiver DOWN for ${forSeconds}s (connections refused)`);
  setTimeout(() => {
    void server.up().then(() => {
      r.down = false;
      console.log(`${stamp()} ${sink} receiver UP again`);
    });
  }, forSeconds * 1000);
}

function addRdsEvent(message: string): void {
  rds.addEvent({ sourceIdentifier: CLUSTER, message, eventCategories: ['notification'] });
  console.log(`${stamp()} RDS event for ${CLUSTER}: "${message}" (run picks it up at its next RDS events poll)`);
}

type Counts = { received: number; unique: number; duplicates: number };
function stats(): { sns: Counts; slack: Counts } {
  drainReceivers();
  const one = (s: 'sns' | 'slack'): Counts => ({ received: receivers[s].received, unique: receivers[s].ids.size, duplicates: receivers[s].duplicates });
  return { sns: one('sns'), slack: one('slack') };
}

// --- admin endpoint: RDS events, outages, counts on demand ----------------------------------------------------
const admin = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://local');
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(text + '\n');
    };
    if (req.method === 'POST' && url.pathname === '/rds-event') {
      const message = Buffer.concat(chunks).toString('utf8').trim();
      if (message === '') return reply(400, 'POST the event message as the body');
      addRdsEvent(message);
      return reply(200, 'ok');
    }
    if (req.method === 'POST' && url.pathname === '/down') {
      const sink = url.searchParams.get('sink');
      const s = Number(url.searchParams.get('seconds') ?? '60');
      if ((sink !== 'slack' && sink !== 'sns') || !(s > 0)) return reply(400, 'use /down?sink=slack|sns&seconds=N');
      void takeDown(sink, s);
      return reply(200, 'ok');
    }
    if (req.method === 'GET' && url.pathname === '/stats') return reply(200, JSON.stringify(stats()));
    reply(404, 'POST /rds-event (body: message) | POST /down?sink=slack|sns&seconds=N | GET /stats');
  });
});
await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
const adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;

// --- a dasguard.yaml for the local sinks (secrets from the environment, as in production) ----------------------
const CONFIG = '.dasguard/local-stack.yaml';
mkdirSync('.dasguard', { recursive: true, mode: 0o700 });
writeFileSync(
  CONFIG,
  `# written by npm run local-stack: every alert to the loopback SNS topic, high and critical also to Slack
version: 1
sinks:
  local-sns:
    type: sns
    topicArn: \${DASGUARD_LOCAL_SNS_TOPIC}
  local-slack:
    type: slack
    url: \${SLACK_WEBHOOK_URL}
routes:
  - name: everything
    sinks: [local-sns]
  - name: urgent
    severity: high
    sinks: [local-slack]
delivery:
  outboxDir: .dasguard/local-stack-outbox
`,
  { mode: 0o600 },
);

console.log(`# dasguard local stack: kinesalite ${kinesalite.url}, DynamoDB ${dynalite.url}, KMS ${kms.url}, RDS ${rds.url}, SNS ${sns.url}, Slack ${slack.url}
# cluster "${CLUSTER}" (resource id ${PG.clusterId}), stream ${STREAM} (${shardCount} shard${shardCount === 1 ? '' : 's'}). In another shell:
export AWS_ENDPOINT_URL_KINESIS=${kinesalite.url}
export AWS_ENDPOINT_URL_DYNAMODB=${dynalite.url}
export AWS_ENDPOINT_URL_KMS=${kms.url}
export AWS_ENDPOINT_URL_RDS=${rds.url}
export AWS_ENDPOINT_URL_SNS=${sns.url}
export AWS_REGION=${REGION}
export AWS_ACCESS_KEY_ID=${FAKE_CREDENTIALS.accessKeyId}
export AWS_SECRET_ACCESS_KEY=${FAKE_CREDENTIALS.secretAccessKey}
unset AWS_PROFILE AWS_SESSION_TOKEN
export DASGUARD_LOCAL_SNS_TOPIC=${TOPIC_ARN}
export SLACK_WEBHOOK_URL=${slackUrl}
export DASGUARD_LOCAL_ADMIN=${adminUrl}
# then: node bin/dasguard.js run --cluster ${CLUSTER} --from trim-horizon
#   alerts to the SNS and Slack receivers: add --config ${CONFIG} (routes: everything -> SNS, high+ -> Slack)
#   check the wiring: node bin/dasguard.js alert-test --route urgent --config ${CONFIG}
#   several runs sharing the shards: add --coordination dynamodb --lease-table dasguard-leases to each, and
#   --state-table dasguard-state so thresholds count every shard's events; give each its own --outbox-dir and --state-dir
#   (then: node bin/dasguard.js status --cluster ${CLUSTER} --lease-table dasguard-leases)
# RDS event (loss window):  curl -d 'Activity records might have been lost' $DASGUARD_LOCAL_ADMIN/rds-event
# receiver down for 60 s:   curl -X POST "$DASGUARD_LOCAL_ADMIN/down?sink=slack&seconds=60"
# counts:                   curl $DASGUARD_LOCAL_ADMIN/stats
# Each message the SNS / Slack receivers accept is printed here: time, sink, alert id, rule, severity.
# Ctrl-C here stops the stack and prints the counts (kinesalite and dynalite keep everything in memory only).`);

// --- sample records, each stamped with the time it is put ----------------------------------------------------
const sample = postgresSample();
const DAS_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})(\d{3})\+00$/;
const dasMs = (s: string): number | undefined => {
  const m = DAS_TIME.exec(s);
  return m === null ? undefined : Date.parse(`${m[1]}T${m[2]}Z`);
};
/** The DAS times of a record's events, in ms. */
const timesOf = (r: SampleRecord): number[] =>
  r.databaseActivityEventList
    .flatMap((e) => [e.startTime, e.logTime])
    .map((t) => (typeof t === 'string' ? dasMs(t) : undefined))
    .filter((t): t is number => t !== undefined);
/** The end of the last record put, so times never go back (two puts in one millisecond stay in order). */
let lastPutMs = 0;
/** The sample record, its times moved so that its first event happens now (offsets within the record kept). */
function stampedNow(r: SampleRecord): SampleRecord {
  const times = timesOf(r);
  if (times.length === 0) return r; // a heartbeat-only record carries no time
  const first = Math.min(...times);
  const shiftMs = Math.max(Date.now(), lastPutMs + 1) - first;
  lastPutMs = Math.max(...times) + shiftMs;
  const move = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    const m = DAS_TIME.exec(v);
    const ms = dasMs(v);
    return m === null || ms === undefined ? v : dasTime(ms + shiftMs, Number(m[3]));
  };
  return {
    ...r,
    databaseActivityEventList: r.databaseActivityEventList.map((e) => ({ ...e, startTime: move(e.startTime), logTime: move(e.logTime) })),
  };
}
let next = 0;
async function put(n: number): Promise<void> {
  const data: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = stampedNow(sample[next++ % sample.length]!);
    data.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
  }
  await putRecords(client, STREAM, data, { spread: shardCount });
  console.log(`${stamp()} put ${n} encrypted sample records (${data.reduce((s, d) => s + d.byteLength, 0).toLocaleString('en-US')} bytes)`);
}

if (toPut > 0) await put(toPut);
const timers: NodeJS.Timeout[] = [];
if (every !== undefined && toPut > 0) {
  timers.push(setInterval(() => void put(toPut).catch((err: unknown) => log({ level: 'error', msg: 'put failed', error: errorMessage(err) })), every * 1000));
}
for (const o of outages) timers.push(setTimeout(() => void takeDown(o.sink, o.for), o.after * 1000));
for (const e of scheduledEvents) timers.push(setTimeout(() => addRdsEvent(e.message), e.after * 1000));

const stop = async () => {
  for (const t of timers) clearTimeout(t);
  clearInterval(receiverTimer);
  clearInterval(settler);
  const s = stats();
  console.log(`# received: ${(['sns', 'slack'] as const).map((k) => `${k} ${s[k].received} (${s[k].unique} unique, ${s[k].duplicates} duplicates)`).join(', ')}`);
  client.destroy();
  await Promise.all([kinesalite.close(), dynalite.close(), kms.close(), rds.close(), sns.close(), slack.close(), new Promise<void>((r) => admin.close(() => r()))]);
  admin.closeAllConnections();
  console.log('# local stack stopped');
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
