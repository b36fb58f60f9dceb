/**
 * `npm run local-stack [-- --put N] [-- --put-every SECONDS]`: everything `dasguard run` talks to, on loopback,
 * for trying it without an AWS account:
 *  - kinesalite (a real Kinesis implementation) with the demo cluster's DAS stream (2 shards);
 *  - the loopback KMS (test/support/kmsServer.ts), decrypting data keys with samples/demo-master-key.json;
 *  - the loopback RDS (test/support/rdsServer.ts) with the demo cluster `dasguard-demo`, its stream `started`.
 * Prints the environment to export, then (with --put N) puts N encrypted sample records, again every
 * --put-every seconds if given. Runs until Ctrl-C. Demo data only: nothing here is a real secret.
 */
import { parseArgs } from 'node:util';
import { encodeRecord } from '../src/codec/encode.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { startKmsServer } from '../test/support/kmsServer.js';
import { clusterModel, startRdsServer } from '../test/support/rdsServer.js';
import { FAKE_CREDENTIALS, REGION, createStream, kinesisClient, putRecords, startKinesalite } from '../test/support/kinesis.js';
import { PG, postgresSample } from './sampleData.js';

const { values } = parseArgs({ options: { put: { type: 'string', default: '0' }, 'put-every': { type: 'string' } }, strict: true });
const toPut = Number(values.put);
const every = values['put-every'] === undefined ? undefined : Number(values['put-every']);
if (!Number.isInteger(toPut) || toPut < 0 || (every !== undefined && !(every > 0))) {
  console.error('usage: npm run local-stack -- [--put N] [--put-every SECONDS]');
  process.exit(2);
}

const CLUSTER = 'dasguard-demo';
const STREAM = `aws-rds-das-${PG.clusterId}`;
const keys = LocalKeyProvider.fromFile('samples/demo-master-key.json');

const kinesalite = await startKinesalite();
const kms = await startKmsServer({ keys });
const rds = await startRdsServer({
  clusters: [clusterModel({ identifier: CLUSTER, resourceId: PG.clusterId, engine: 'aurora-postgresql', activityStream: { status: 'started', streamName: STREAM } })],
});
const client = kinesisClient(kinesalite.url);
await createStream(client, STREAM, 2);

console.log(`# dasguard local stack: kinesalite ${kinesalite.url}, KMS ${kms.url}, RDS ${rds.url}
# cluster "${CLUSTER}" (resource id ${PG.clusterId}), stream ${STREAM} (2 shards). In another shell:
export AWS_ENDPOINT_URL_KINESIS=${kinesalite.url}
export AWS_ENDPOINT_URL_KMS=${kms.url}
export AWS_ENDPOINT_URL_RDS=${rds.url}
export AWS_REGION=${REGION}
export AWS_ACCESS_KEY_ID=${FAKE_CREDENTIALS.accessKeyId}
export AWS_SECRET_ACCESS_KEY=${FAKE_CREDENTIALS.secretAccessKey}
unset AWS_PROFILE AWS_SESSION_TOKEN
# then: node bin/dasguard.js run --cluster ${CLUSTER} --from trim-horizon
# Ctrl-C here stops the stack (kinesalite keeps the stream in memory only).`);

const sample = postgresSample();
let next = 0;
async function put(n: number): Promise<void> {
  const data: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = sample[next++ % sample.length]!;
    data.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
  }
  await putRecords(client, STREAM, data);
  console.log(`# put ${n} encrypted sample records (${data.reduce((s, d) => s + d.byteLength, 0).toLocaleString('en-US')} bytes)`);
}

if (toPut > 0) await put(toPut);
const timer = every !== undefined && toPut > 0 ? setInterval(() => void put(toPut).catch((err: unknown) => console.error('# put failed:', err)), every * 1000) : undefined;

const stop = async () => {
  if (timer) clearInterval(timer);
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close(), rds.close()]);
  console.log('# local stack stopped');
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
