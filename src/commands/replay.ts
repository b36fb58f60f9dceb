/**
 * `dasguard replay` (records through the rules, alerts out) and `dasguard decode` (records to normalised events
 * as JSON Lines). Both read every input form readInputs knows, stream it, and quarantine what they cannot use.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { ConfigError, ExitCode, ExitError, TransientError } from '../errors.js';
import { readInputs, type InputItem } from '../input/readInputs.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import { drive, withRetry } from '../pipeline/drive.js';
import type { Redaction } from '../pipeline/alert.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import { processRecord, type Quarantined, type RecordOutcome } from '../pipeline/processRecord.js';
import { Progress, RunStats, formatSummary, writeLine, type OutputFormat } from '../pipeline/output.js';
import { severityRank, formatPosition, type Severity, type SourceRecord } from '../types.js';
import { keyProviderFor, loadRulesOrExit, openPool, type Io } from './common.js';
import { redactEvent } from '../redaction/index.js';
import { Base64Data } from '../codec/base64.js';
import { jsonLine, terminalSafe } from '../util/escape.js';
import { openDelivery, formatDeliverySummary, type DeliveryOptions } from './deliveryOptions.js';

export interface ReplayOptions {
  inputs: string[];
  rules?: string[];
  keyFile?: string;
  resourceId?: string;
  output: OutputFormat;
  strict: boolean;
  failOn?: Severity;
  redaction: Redaction;
  quarantineFile?: string;
  concurrency: number;
  /** Worker threads for payload decryption (DecryptPool); 0 or absent: on the main thread. */
  workers?: number;
  /** Print the summary line(s) on stderr. */
  summary: boolean;
  /** Alert delivery (dasguard.yaml, or the shortcuts); without any, alerts go to stdout. */
  delivery?: DeliveryOptions;
}

export async function replayCommand(opts: ReplayOptions, io: Io): Promise<number> {
  const { ruleSet } = await loadRulesOrExit(opts.rules, io);
  const keys = await keyProviderFor(opts.keyFile);
  const stats = new RunStats();
  const progress = new Progress(io.stderr);
  const color = opts.output === 'text' && Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
  const delivery = await openDelivery(opts.delivery, io, ruleSet.rules.map((r) => r.id));
  const handoff: AlertHandoff = delivery ?? consoleHandoff(io.stdout as never, opts.output, color);
  const quarantine = opts.quarantineFile ? createWriteStream(opts.quarantineFile, { flags: 'a', mode: 0o600 }) : undefined;

  const pool = openPool(opts.workers);
  let failed = false;
  try {
    await runItems(opts, io, quarantine, stats, progress, (record) => processRecord(record, { keys, rules: ruleSet, redaction: opts.redaction, ...pool?.deps }), async (outcome) => {
      for (const alert of outcome.alerts) stats.countAlert(alert);
      // A hand-off that fails transiently (the outbox on a full disk) changed nothing: retried, then exit 4.
      if (outcome.alerts.length > 0) {
        await withRetry(() => handoff.handOff(outcome.alerts), {
          onRetry: (err, attempt, delay) => io.stderr.write(`dasguard: alert handoff failed, retrying (attempt ${attempt}, ${delay} ms): ${terminalSafe(err.message)}\n`),
        });
      }
    });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await pool?.close();
    // After a failure, that failure is what the user needs to see; a close that fails too only adds a line.
    await handoff.close().catch((err: unknown) => {
      if (!failed) throw err;
      io.stderr.write(`dasguard: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`);
    });
  }
  const code = await finish('replay', opts, io, stats, keys, progress, quarantine);
  if (delivery) {
    const d = delivery.stats();
    if (opts.summary) io.stderr.write(formatDeliverySummary(d, delivery.outboxDir) + '\n');
    if (d.pending > 0 || d.deadLettered > 0) {
      throw new ExitError(ExitCode.unavailable, `${d.pending} alert deliveries still pending in ${delivery.outboxDir}, ${d.deadLettered} dead-lettered: run again to resume, see the dead-letter file`);
    }
  }
  return code;
}

export interface DecodeOptions {
  inputs: string[];
  keyFile?: string;
  resourceId?: string;
  heartbeats: boolean;
  /** What statement text, bind values and server messages look like in the printed events. */
  redaction: Redaction;
  strict: boolean;
  quarantineFile?: string;
  concurrency: number;
  /** Worker threads for payload decryption (DecryptPool); 0 or absent: on the main thread. */
  workers?: number;
  summary: boolean;
}

export async function decodeCommand(opts: DecodeOptions, io: Io): Promise<number> {
  const keys = await keyProviderFor(opts.keyFile);
  const stats = new RunStats();
  const progress = new Progress(io.stderr);
  const quarantine = opts.quarantineFile ? createWriteStream(opts.quarantineFile, { flags: 'a', mode: 0o600 }) : undefined;
  const pool = openPool(opts.workers);
  const decodeOne = (record: SourceRecord) => processRecord(record, { keys, ...pool?.deps });
  try {
    await runItems(opts, io, quarantine, stats, progress, decodeOne, async (outcome) => {
      const batch = outcome.batch;
      if (!batch) return;
      for (const e of batch.events) await writeLine(io.stdout as never, jsonLine(redactEvent(e, opts.redaction)));
      if (opts.heartbeats) {
        for (const h of batch.heartbeats) await writeLine(io.stdout as never, jsonLine(redactEvent({ ...h.raw, clusterId: h.clusterId, instanceId: h.instanceId, logTimeMs: h.logTimeMs }, opts.redaction)));
      }
    });
  } finally {
    await pool?.close();
  }
  return finish('decode', opts, io, stats, keys, progress, quarantine);
}

/** --workers N > 0: a DecryptPool, and the processRecord deps that use it. */
type Common = Pick<ReplayOptions, 'inputs' | 'resourceId' | 'concurrency'>;

async function runItems(
  opts: Common,
  io: Io,
  quarantine: WriteStream | undefined,
  stats: RunStats,
  progress: Progress,
  work: (record: SourceRecord) => Promise<RecordOutcome>,
  emit: (outcome: RecordOutcome) => Promise<void>,
): Promise<void> {
  const readOpts: { resourceId?: string; stdin: NodeJS.ReadableStream } = { stdin: io.stdin };
  if (opts.resourceId !== undefined) readOpts.resourceId = opts.resourceId;
  const items = readInputs(opts.inputs, readOpts);
  const quarantineItem = async (q: Quarantined, raw: unknown) => {
    stats.countQuarantine(q);
    if (quarantine) {
      await writeLine(quarantine, jsonLine({ source: formatPosition(q.position), ...q, raw }));
    }
  };
  try {
    await drive<InputItem, RecordOutcome | undefined>(
      items,
      async (item) => (item.kind === 'record' ? work(item.record) : undefined),
      async (outcome, item) => {
        stats.records++;
        if (item.kind === 'bad') {
          await quarantineItem({ position: item.position, reason: item.reason, message: item.message }, item.raw);
        } else if (outcome) {
          if (outcome.encrypted) stats.encryptedRecords++;
          if (outcome.batch) {
            stats.events += outcome.batch.events.length;
            stats.heartbeats += outcome.batch.heartbeats.length;
          }
          for (const w of outcome.warnings) stats.warnings.add(w);
          for (const q of outcome.quarantined) {
            await quarantineItem(q, q.eventIndex === undefined ? rawOf(item.record) : undefined);
          }
          await emit(outcome);
        }
        progress.update(stats);
      },
      {
        concurrency: opts.concurrency,
        onRetry: (err, attempt, delay) => io.stderr.write(`dasguard: retrying after a transient failure (attempt ${attempt}, ${delay} ms): ${terminalSafe(err.message)}\n`),
      },
    );
  } catch (err) {
    progress.clear();
    if (err instanceof TransientError) {
      throw new ExitError(ExitCode.unavailable, `stopped: ${err.message} (retries exhausted; no record was skipped: re-run to continue)`);
    }
    if (err instanceof ConfigError) throw new ExitError(ExitCode.usage, err.message);
    throw err;
  }
}

function rawOf(record: SourceRecord): unknown {
  if (record.data instanceof Base64Data) return record.data.text;
  return record.data instanceof Uint8Array ? Buffer.from(record.data).toString('base64') : record.data;
}

async function finish(
  command: string,
  opts: { strict: boolean; failOn?: Severity; summary: boolean },
  io: Io,
  stats: RunStats,
  keys: KeyProvider,
  progress: Progress,
  quarantine: WriteStream | undefined,
): Promise<number> {
  progress.clear();
  if (quarantine) await new Promise<void>((resolve, reject) => quarantine.end((err?: Error | null) => (err ? reject(err) : resolve())));
  if (opts.summary) io.stderr.write(formatSummary(command, stats, keys.stats()) + '\n');
  if (opts.failOn && stats.highestSeverity && severityRank(stats.highestSeverity) >= severityRank(opts.failOn)) {
    return ExitCode.alertFired;
  }
  if (opts.strict && stats.quarantined > 0) return ExitCode.quarantined;
  return ExitCode.ok;
}
