/**
 * `dasguard replay` (records through the rules, alerts out) and `dasguard decode` (records to normalised events
 * as JSON Lines). Both read every input form readInputs knows, stream it through the record driver
 * (src/pipeline/runRecords.ts), and quarantine what they cannot use; what is left here is their policy: where alerts
 * and quarantined records go, the summary, and the exit codes.
 */
import { ExitCode, ExitError, stopped } from '../errors.js';
import type { WorkersOption } from './options.js';
import { expandInputPaths, inputBytes, readFiles, type InputItem } from '../input/readInputs.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import type { Redaction } from '../pipeline/alert.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import type { RecordOutcome } from '../pipeline/processRecord.js';
import { Progress, formatSummary, writeLine, type OutputFormat } from '../pipeline/output.js';
import { PipelineStats } from '../pipeline/PipelineStats.js';
import { decodedLines } from '../pipeline/decodedLines.js';
import { JsonlQuarantineFile } from '../pipeline/JsonlQuarantineFile.js';
import { runRecords, type RunRecordsOptions } from '../pipeline/runRecords.js';
import { RETRY_DEFAULTS } from '../pipeline/drive.js';
import { severityRank, type Severity } from '../types.js';
import { checkedAtStart, keyProviderFor, loadRulesOrExit, openPool, type OpenPool } from './common.js';
import type { RuleSet } from '../rules/index.js';
import { colorOutput, type Io } from './io.js';
import { Correlator } from '../pipeline/Correlator.js';
import { FileCorrelationStore } from '../pipeline/CorrelationStore.js';
import { terminalSafe } from '../util/escape.js';
import { openDelivery, formatDeliverySummary, type DeliveryOptions } from './deliveryOptions.js';

export interface ReplayOptions {
  inputs: string[];
  rules?: string[];
  keyFile?: string;
  resourceId?: string;
  output: OutputFormat;
  /** Text alerts with the record's position and the runbook (--verbose). */
  verbose?: boolean;
  strict: boolean;
  failOn?: Severity;
  redaction: Redaction;
  quarantineFile?: string;
  concurrency: number;
  /** Worker threads for decryption, decoding and the stateless rules (RecordPool); 0 or absent: on the main thread. */
  workers?: WorkersOption;
  /** Print the summary line(s) on stderr. */
  summary: boolean;
  /** Alert delivery (dasguard.yaml, or the shortcuts); without any, alerts go to stdout. */
  delivery?: DeliveryOptions;
  /** Correlation state carried between replays: read at start, written at a successful end. */
  stateFile?: string;
}

export async function replayCommand(opts: ReplayOptions, io: Io): Promise<number> {
  const inputs = expandInputPaths(opts.inputs);
  // Started once the inputs are found (and, for auto, sized): the workers load their modules while the rules load
  // here (each compiles them once they are sent, RecordPool.ready), instead of after. Closed however the command ends.
  const pool = await inputs.then(async (files) => openPool(opts.workers, await sizeFor(opts.workers, files)), () => undefined);
  try {
    // Every mistake at once: the rule files' (their problems, then how many), the inputs', the key file's.
    const [{ ruleSet }, files, keys] = await checkedAtStart(io, [loadRulesOrExit(opts.rules, io), inputs, keyProviderFor(opts.keyFile)] as const);
    return await replayWith(pool, files, ruleSet, keys, opts, io);
  } finally {
    await pool?.close();
  }
}

async function replayWith(pool: OpenPool | undefined, files: readonly string[], ruleSet: RuleSet, keys: KeyProvider, opts: ReplayOptions, io: Io): Promise<number> {
  const stats = new PipelineStats();
  const progress = new Progress(io.stderr);
  const color = colorOutput(opts.output, io);
  const delivery = await openDelivery({ ...opts.delivery, stdoutFormat: opts.output }, io, ruleSet.rules.map((r) => r.id));
  const handoff: AlertHandoff = delivery ?? consoleHandoff(io.stdout, opts.output, color, opts.verbose);
  const quarantine = opts.quarantineFile ? new JsonlQuarantineFile(opts.quarantineFile) : undefined;

  const correlator = await Correlator.open(ruleSet, {
    redaction: opts.redaction,
    ...(opts.stateFile !== undefined ? { store: new FileCorrelationStore(opts.stateFile) } : {}),
  });
  if (correlator !== undefined && correlator.restarted.length > 0) {
    io.stderr.write(`dasguard: ${opts.stateFile}: ${correlator.restarted.length} correlation rule(s) changed since the state was saved, their state dropped: ${correlator.restarted.join(', ')}\n`);
  }
  let failed = false;
  try {
    await runItems(opts, files, io, quarantine, stats, progress, {
      deps: { keys, rules: ruleSet, redaction: opts.redaction, ...pool?.deps, ...(correlator ? { correlator } : {}) },
      handoff,
      // A hand-off that fails transiently (the outbox on a full disk) changed nothing: retried, then exit 4.
      handoffRetry: {
        attempts: RETRY_DEFAULTS.attempts,
        onRetry: (err, attempt, delay) => io.stderr.write(`dasguard: alert handoff failed, retrying (attempt ${attempt}, ${delay} ms): ${terminalSafe(err.message)}\n`),
      },
    });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // Closed here, before the summary, once every record is through (replayCommand closes it again, a no-op, and on
    // an early exit such as a bad key file).
    await pool?.close();
    // After a failure, that failure is what the user needs to see; a close that fails too only adds a line.
    await handoff.close().catch((err: unknown) => {
      if (!failed) throw err;
      io.stderr.write(`dasguard: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`);
    });
  }
  // Only after a complete run: a replay that stopped is run again from the start, with the state it started with.
  await correlator?.persist();
  const code = await finish('replay', opts, io, stats, keys, progress, quarantine, pool?.summary());
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
  /** Worker threads for decryption, decoding and the stateless rules (RecordPool); 0 or absent: on the main thread. */
  workers?: WorkersOption;
  summary: boolean;
}

export async function decodeCommand(opts: DecodeOptions, io: Io): Promise<number> {
  const [files, keys] = await checkedAtStart(io, [expandInputPaths(opts.inputs), keyProviderFor(opts.keyFile)] as const);
  const stats = new PipelineStats();
  const progress = new Progress(io.stderr);
  const quarantine = opts.quarantineFile ? new JsonlQuarantineFile(opts.quarantineFile) : undefined;
  const pool = openPool(opts.workers, await sizeFor(opts.workers, files));
  try {
    const rendering = { redaction: opts.redaction, heartbeats: opts.heartbeats };
    await runItems(opts, files, io, quarantine, stats, progress, { deps: { keys, ...pool?.deps, render: rendering } }, async (outcome) => {
      // rendered by the worker that decoded the record, else here
      const lines = outcome?.lines ?? (outcome?.batch !== undefined ? decodedLines(outcome.batch, rendering) : '');
      if (lines !== '') await writeLine(io.stdout, lines.slice(0, -1));
    });
  } finally {
    await pool?.close();
  }
  return finish('decode', opts, io, stats, keys, progress, quarantine, pool?.summary());
}

type Common = Pick<ReplayOptions, 'resourceId' | 'concurrency'>;

/** The input's size when `--workers auto` decides by it (inputBytes); no file is opened for another choice. */
async function sizeFor(workers: WorkersOption | undefined, files: readonly string[]): Promise<number | undefined> {
  return workers === 'auto' ? inputBytes(files) : undefined;
}

/** The records of the inputs through the record driver (a failure that ran out of retries: `stopped`). `emit`: decode's output. */
async function runItems(
  opts: Common,
  files: readonly string[],
  io: Io,
  quarantine: JsonlQuarantineFile | undefined,
  stats: PipelineStats,
  progress: Progress,
  pipeline: Pick<RunRecordsOptions<InputItem>, 'deps' | 'process' | 'handoff' | 'handoffRetry'>,
  emit?: (outcome: RecordOutcome | undefined) => Promise<void>,
): Promise<void> {
  const readOpts: { resourceId?: string; stdin: NodeJS.ReadableStream } = { stdin: io.stdin };
  if (opts.resourceId !== undefined) readOpts.resourceId = opts.resourceId;
  try {
    await runRecords(readFiles(files, readOpts), {
      ...pipeline,
      toItem: (item) => item,
      stats,
      ...(quarantine ? { quarantine } : {}),
      commit: async (_item, outcome) => {
        await emit?.(outcome);
        progress.update(stats);
      },
      drive: {
        concurrency: opts.concurrency,
        onRetry: (err, attempt, delay) => io.stderr.write(`dasguard: retrying after a transient failure (attempt ${attempt}, ${delay} ms): ${terminalSafe(err.message)}\n`),
      },
    });
  } catch (err) {
    progress.clear();
    throw stopped(err);
  }
}

async function finish(
  command: string,
  opts: { strict: boolean; failOn?: Severity; summary: boolean },
  io: Io,
  stats: PipelineStats,
  keys: KeyProvider,
  progress: Progress,
  quarantine: JsonlQuarantineFile | undefined,
  workers: string | undefined,
): Promise<number> {
  progress.clear();
  if (quarantine) await quarantine.close();
  if (opts.summary) io.stderr.write(formatSummary(command, stats, keys.stats(), { alerts: command !== 'decode', workers }) + '\n');
  if (opts.failOn && stats.highestSeverity && severityRank(stats.highestSeverity) >= severityRank(opts.failOn)) {
    return ExitCode.alertFired;
  }
  if (opts.strict && stats.quarantined > 0) return ExitCode.quarantined;
  return ExitCode.ok;
}

// ---- The command-line declarations of `replay` and `decode` (src/cli.ts lists them; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { Severities } from '../types.js';
import { defineCommand } from './command.js';
import { ALERT_OUTPUT_OPTION, VERBOSE_OPTION, DELIVERY_OPTIONS, INPUT_OPTIONS, RULES_OPTION, alertOutputOption, deliveryOptions, inputOptions, severityOption } from './options.js';

export const replayCli = defineCommand({
  name: 'replay',
  usage: 'Usage: dasguard replay PATH... [options]',
  description:
    'Decodes every record and evaluates its activity events against the rules. Alerts go to stdout; a summary\n' +
    '(records, events, heartbeats, alerts per rule, quarantined) goes to stderr.',
  options: {
    rules: RULES_OPTION,
    output: ALERT_OUTPUT_OPTION,
    verbose: VERBOSE_OPTION,
    'fail-on': { type: 'string', label: '--fail-on SEVERITY', help: `Exit 3 when an alert at or above SEVERITY (${Severities.join(', ')}) fired` },
    'state-file': { type: 'string', label: '--state-file PATH', help: 'Correlation rules\' state: read at start (when the file exists), written at the end,\nso windows carry over to the next replay (default: this replay only)' },
    ...DELIVERY_OPTIONS,
    ...INPUT_OPTIONS,
  },
  run(v, positionals, io) {
    if (positionals.length === 0) throw new UsageError("replay needs at least one input PATH ('-' for stdin)");
    return replayCommand(
      {
        inputs: positionals,
        rules: v.rules,
        output: alertOutputOption(v.output),
        verbose: v.verbose,
        failOn: severityOption(v['fail-on']),
        ...(v['state-file'] !== undefined ? { stateFile: v['state-file'] } : {}),
        ...inputOptions(v),
        delivery: deliveryOptions(v),
      },
      io,
    );
  },
});

export const decodeCli = defineCommand({
  name: 'decode',
  usage: 'Usage: dasguard decode PATH... [options]',
  description:
    'Decrypts and normalises records; prints each activity event as one JSON line, every original field kept, plus\n' +
    'engine, clusterId, instanceId, recordVersion, logTimeMs, startTimeMs, endTimeMs, rows, sqlCommand, sqlHasWhere\n' +
    'and sqlComments. Statement text, bind values and server messages follow --redaction (default literals: masked);\n' +
    'with --redaction none, decrypted audit data goes to stdout as written: redirect it only if you mean to keep it.',
  options: {
    heartbeats: { type: 'boolean', default: false, label: '--heartbeats', help: 'Also print heartbeat events' },
    ...INPUT_OPTIONS,
  },
  run(v, positionals, io) {
    if (positionals.length === 0) throw new UsageError("decode needs at least one input PATH ('-' for stdin)");
    return decodeCommand({ inputs: positionals, heartbeats: v.heartbeats, ...inputOptions(v) }, io);
  },
});
