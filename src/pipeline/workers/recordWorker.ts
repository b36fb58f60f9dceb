/**
 * The worker side of RecordPool. A 'record' job runs the same code the main thread runs without workers, from the
 * sealed payload on: decryptAndGunzip, unsealedBatch (parse, normalise), evaluateBatch (the stateless rules, alerts,
 * the correlation base events) with the rule set the job names, compiled here from the same files (loadRuleTexts:
 * same rules, same version, so the same alerts and ids). A 'decrypt' job is the payload alone. The data key copy
 * and the plaintext are zeroed after use; a PoisonRecordError goes back as {reason, message}.
 */
import { parentPort } from 'node:worker_threads';
import { PoisonRecordError, errorMessage } from '../../errors.js';
import { decryptAndGunzip, unsealedBatch } from '../../codec/decode.js';
import { loadRuleTexts } from '../../rules/load.js';
import { keepParse } from '../../config/yamlTree.js';
import type { RuleSet } from '../../rules/types.js';
import { evaluateBatch } from '../processRecord.js';
import { decodedLines } from '../decodedLines.js';
import { toWire, type JobReply, type WorkerReply, type WorkerRequest } from './wire.js';

const port = parentPort;
if (port === null) throw new Error('recordWorker must run in a worker thread (RecordPool starts it)');

/** The rule sets by number, or why one did not compile (the main thread compiled the same texts: that is a bug). */
const ruleSets = new Map<number, RuleSet | string>();

port.on('message', (req: WorkerRequest) => {
  if (req.kind === 'rules') {
    req.sources.forEach((s, i) => {
      const docs = req.parsed[i];
      if (docs !== null && docs !== undefined) keepParse(s.file, s.text, docs);
    });
    const { ruleSet, problems } = loadRuleTexts(req.sources);
    ruleSets.set(req.id, ruleSet ?? `the rules did not compile in the worker: ${problems.map((p) => p.message).join('; ')}`);
    // Compiled (or not: its records then fail, loudly, with why): the pool may send it records of this set now.
    port.postMessage({ kind: 'compiled', rules: req.id } satisfies WorkerReply);
    return;
  }
  if (req.kind === 'forget') {
    ruleSets.delete(req.id);
    return;
  }
  void run(req).then((reply) => {
    if (reply.ok && 'plaintext' in reply) port.postMessage(reply, [reply.plaintext.buffer as ArrayBuffer]);
    else port.postMessage(reply);
  });
});

port.postMessage({ kind: 'up' } satisfies WorkerReply);

async function run(job: Extract<WorkerRequest, { kind: 'decrypt' | 'record' }>): Promise<JobReply> {
  try {
    if (job.kind === 'decrypt') return { id: job.id, ok: true, plaintext: exclusive(await decryptAndGunzip(job.message, job.dataKey)) };
    let rules: RuleSet | undefined;
    if (job.rules !== null) {
      const set = ruleSets.get(job.rules);
      if (set === undefined) throw new Error(`rule set ${job.rules} was not sent to this worker`);
      if (typeof set === 'string') throw new Error(set);
      rules = set;
    }
    const json = await decryptAndGunzip(job.message, job.dataKey);
    let outcome;
    try {
      const batch = unsealedBatch(json, job);
      outcome = evaluateBatch(batch, job.position, { ...(rules !== undefined ? { rules } : {}), redaction: job.redaction });
      if (job.render !== null) outcome.lines = decodedLines(batch, job.render);
    } finally {
      json.fill(0);
    }
    return { id: job.id, ok: true, outcome: toWire(outcome, rules === undefined && job.render === null) };
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
