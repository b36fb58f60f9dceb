/**
 * The worker side of DecryptPool: one job = (ESDK message, data key) -> decrypted and gunzipped payload bytes.
 * Runs decryptAndGunzip (the same code the main thread runs without a pool); the data key copy is zeroed after use
 * and the result's memory is transferred back, not copied. A PoisonRecordError goes back as {reason, message}.
 */
import { parentPort } from 'node:worker_threads';
import { PoisonRecordError, errorMessage } from '../errors.js';
import { decryptAndGunzip } from './decode.js';
import type { DecryptJob, DecryptReply } from './DecryptPool.js';

const port = parentPort;
if (port === null) throw new Error('decryptWorker must run in a worker thread (DecryptPool starts it)');

port.on('message', (job: DecryptJob) => {
  void run(job).then((reply) => {
    if (reply.ok) port.postMessage(reply, [reply.plaintext.buffer as ArrayBuffer]);
    else port.postMessage(reply);
  });
});

async function run(job: DecryptJob): Promise<DecryptReply> {
  try {
    const json = await decryptAndGunzip(job.message, job.dataKey);
    return { id: job.id, ok: true, plaintext: exclusive(json) };
  } catch (err) {
    if (err instanceof PoisonRecordError) return { id: job.id, ok: false, poison: true, reason: err.reason, message: err.message };
    return { id: job.id, ok: false, poison: false, name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
  } finally {
    job.dataKey.fill(0);
  }
}

/** Bytes that own their whole ArrayBuffer (transferable); a view into a larger buffer is copied and the original zeroed. */
function exclusive(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)) return bytes;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  bytes.fill(0);
  return copy;
}
