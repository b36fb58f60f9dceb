/** What several commands share: where rules come from, which key source to use, a decryption pool (their Io: io.ts). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, ExitError, exitCodeOf } from '../errors.js';
import { terminalLines } from '../util/escape.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import { KeyGuard } from '../keys/KeyGuard.js';
import type { KmsKeyProvider } from '../keys/KmsKeyProvider.js';
import { LocalKeyProvider } from '../keys/LocalKeyProvider.js';
import { formatProblem, loadRules, rulesFailedMessage, type RuleSet } from '../rules/index.js';
import { RecordPool } from '../pipeline/workers/RecordPool.js';
import { AUTO_START_RECORDS, AutoRecordPool } from '../pipeline/workers/AutoRecordPool.js';
import { availableParallelism } from 'node:os';
import { cgroupCpuQuota } from '../util/cpuQuota.js';
import type { WorkersOption } from './options.js';
import type { ProcessorDeps } from '../pipeline/processRecord.js';
import type { Io } from './io.js';

/** `./rules` when the working directory has one, else the baseline pack shipped with dasguard. */
export function defaultRulePaths(): string[] {
  if (existsSync('rules')) return ['rules'];
  const here = dirname(fileURLToPath(import.meta.url));
  // src/commands or dist/commands -> package root
  return [join(here, '..', '..', 'rules')];
}

/**
 * A command's start-up checks (its inputs, rule files, key file), each run to its end, so the user sees every
 * mistake at once: when several fail with a usage or configuration error, each one's message but the last is written
 * here as the CLI writes the last (`dasguard: MESSAGE`), and the last is thrown (exit 2). A failure of another kind
 * is thrown as it is, before any of them.
 */
export async function checkedAtStart<T extends readonly unknown[]>(io: Io, checks: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(checks);
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length === 0) return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
  const other = failures.find((err) => exitCodeOf(err) !== ExitCode.usage);
  if (other !== undefined) throw other;
  for (const err of failures.slice(0, -1)) {
    const message = (err as Error).message;
    if (message !== '') io.stderr.write(`dasguard: ${terminalLines(message)}\n`);
  }
  throw failures[failures.length - 1];
}

/** Loads rules or ends the command with exit code 2, after printing EVERY problem. `paths`: the paths loaded (or the default). */
export async function loadRulesOrExit(paths: string[] | undefined, io: Io): Promise<{ ruleSet: RuleSet; files: string[]; paths: string[] }> {
  const used = paths && paths.length > 0 ? paths : defaultRulePaths();
  const { ruleSet, problems, files } = await loadRules(used);
  for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
  if (!ruleSet) {
    throw new ExitError(ExitCode.usage, rulesFailedMessage(problems));
  }
  return { ruleSet, files, paths: used };
}

const RESOURCE_ID_HINT =
  'pass the --resource-id of the cluster (cluster-…) or instance (db-…) that wrote the records (its resource id, not its name)';

/**
 * A key file when given; otherwise AWS KMS through the standard SDK configuration, built on the first encrypted
 * record (a plaintext replay needs no AWS configuration at all). Guarded (KeyGuard): a key that decrypts no record
 * is a configuration error saying what to pass, not a quarantine per record.
 */
export async function keyProviderFor(keyFile: string | undefined): Promise<KeyProvider> {
  if (keyFile !== undefined) {
    return new KeyGuard(LocalKeyProvider.fromFile(keyFile), {
      hint: `${RESOURCE_ID_HINT}, and the --key-file their data keys were wrapped with (not ${keyFile})`,
    });
  }
  // The KMS client (~12 MB) is loaded with the first data key to decrypt: a replay with --key-file never loads it.
  let kms: KmsKeyProvider | undefined;
  let loading: Promise<KmsKeyProvider> | undefined;
  const lazy: KeyProvider = {
    getDataKey: async (ciphertext, context) => {
      kms ??= await (loading ??= import('../keys/KmsKeyProvider.js').then((m) => new m.KmsKeyProvider()));
      return kms.getDataKey(ciphertext, context);
    },
    stats: () => kms?.stats() ?? { backendCalls: 0, cacheHits: 0, cacheMisses: 0 },
  };
  return new KeyGuard(lazy, {
    hint: `${RESOURCE_ID_HINT}; records not encrypted by AWS KMS (the bundled samples) need --key-file`,
  });
}

/**
 * `--workers N|auto`: worker threads for processRecord's deps (src/pipeline/workers/RecordPool.ts: decrypt to stateless
 * rules), or undefined for N = 0 (everything on this thread). `auto`, given the input's size in bytes (inputBytes):
 * workers from the start for an input of at least AUTO_START_BYTES, none for a smaller one or on one usable core;
 * for an input of unknown size (stdin, a pipe), workers once AUTO_START_RECORDS encrypted records came (AutoRecordPool.ts).
 */
export function openPool(workers: WorkersOption | undefined, inputSize?: number): OpenPool | undefined {
  if (workers === undefined || workers === 0) return undefined;
  if (workers === 'auto') {
    const n = autoWorkers();
    if (n === 0 || (inputSize !== undefined && inputSize < AUTO_START_BYTES)) return undefined;
    if (inputSize === undefined) {
      const auto = new AutoRecordPool(n);
      const note = `--workers auto, after the first ${AUTO_START_RECORDS.toLocaleString('en-US')} encrypted records`;
      return { deps: { workers: auto }, close: () => auto.close(), summary: () => (auto.started ? poolSummary(n, auto.recordsProcessed, note) : undefined) };
    }
    return fixedPool(n, `--workers auto, input of ${(inputSize / 1e6).toFixed(1)} MB`);
  }
  return fixedPool(workers, undefined);
}

function fixedPool(workers: number, note: string | undefined): OpenPool {
  const pool = new RecordPool({ workers });
  return {
    deps: { decrypt: (message, dataKey) => pool.decrypt(message, dataKey), workers: pool },
    close: () => pool.close(),
    summary: () => poolSummary(workers, pool.recordsProcessed, note),
  };
}

/**
 * The input size from which `--workers auto` starts its workers (bytes, a gzip file's decompressed). Measured on 2 cores, replay with 2
 * workers against the main thread alone (medians of 7): records of 10 events broke even at ~1.8 MB, of 100 events at
 * ~2.8 MB, of 1,000 events at ~7 MB (the fewer events a record holds, the more work per byte). Just over 8 MB none
 * loses (bench/autoWorkers.ts: 1.00-1.28x in two runs of 2026-12-04); below, nothing changes.
 */
export const AUTO_START_BYTES = 8_000_000;

export interface OpenPool {
  deps: Pick<ProcessorDeps, 'decrypt' | 'workers'>;
  close(): Promise<void>;
  /** The summary's line about the workers (how many, the records they processed); none when `auto` never started them. */
  summary(): string | undefined;
}

function poolSummary(workers: number, records: number, autoNote: string | undefined): string {
  const threads = `${workers} worker thread${workers === 1 ? '' : 's'}${autoNote !== undefined ? ` (${autoNote})` : ''}`;
  return `  ${threads}: ${records.toLocaleString('en-US')} record${records === 1 ? '' : 's'} processed in ${workers === 1 ? 'it' : 'them'}, the rest on the main thread`;
}

/**
 * `--workers auto`: one worker per core the process may use (the CPUs it may run on, within its control group's CPU
 * quota: src/util/cpuQuota.ts), at most MAX_AUTO_WORKERS; none on a single core (the main thread alone does better).
 */
export function autoWorkers(cores = availableParallelism(), quota = cgroupCpuQuota()): number {
  const usable = quota === undefined ? cores : Math.min(cores, Math.floor(quota));
  return usable <= 1 ? 0 : Math.min(usable, MAX_AUTO_WORKERS);
}

/**
 * The most workers `auto` starts. Each holds ~18 MB, and the main thread keeps its in-order share of every record
 * (input, envelope and data key, correlations, output), which more workers do not shorten; more than 2 was never
 * measured (the development machine has 2 cores). A number (`--workers 8`) still starts as many as asked.
 */
export const MAX_AUTO_WORKERS = 4;
