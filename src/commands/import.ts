/**
 * `dasguard import <format> FILE...`: turns a database's own audit log into DAS records (Kinesis JSON Lines) that
 * replay, decode and the tests read like a real activity stream: plaintext envelopes by default, encrypted Kinesis
 * records with --key-file. Each format is an Importer (src/import/); this module opens the output, derives the
 * resource ids, drives the importer into the shared RecordWriter and reports every unreadable line as file:line.
 * mariadb-audit also takes the server's slow logs (--slow-log) for rowCount; the importer's own counts end the summary.
 * Exit 0; 1 when some lines could not be read (the rest is imported); 2 for bad usage or an unreadable file.
 */
import { createWriteStream, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ExitCode, UsageError } from '../errors.js';
import { LocalKeyProvider } from '../keys/LocalKeyProvider.js';
import { DEFAULT_MAX_EVENTS, RecordWriter, fakeResourceId, streamNameFor, type Importer } from '../import/records.js';
import { resourceIdProblem } from '../sources/streamName.js';
import { terminalSafe } from '../util/escape.js';
import type { Io } from './io.js';

/** The formats, each loaded only when used. */
/** What a format may take besides its files. */
export interface ImporterInputs {
  /** MariaDB slow logs (mariadb-audit only). */
  slowLogs: string[];
}

/** The formats, each loaded only when used; `slowLog`: whether it takes --slow-log. */
export const IMPORTERS: Readonly<Record<string, { summary: string; slowLog: boolean; load(inputs: ImporterInputs): Promise<Importer> }>> = {
  pgaudit: {
    summary: 'PostgreSQL csvlog or jsonlog with pgaudit AUDIT lines, connections, failed logins, errors -> PostgreSQL 1.1 events',
    slowLog: false,
    load: async () => (await import('../import/pgaudit.js')).pgauditImporter(),
  },
  'mariadb-audit': {
    summary: 'MariaDB server_audit log (file output): CONNECT, FAILED_CONNECT, QUERY and TABLE entries -> MySQL 1.2 MAIN and AUX events',
    slowLog: true,
    load: async (inputs) => (await import('../import/mariadbAudit.js')).mariadbAuditImporter({ slowLogs: inputs.slowLogs }),
  },
};

export interface ImportOptions {
  format: string;
  files: string[];
  /** --slow-log (mariadb-audit): slow-log files whose row counts fill rowCount. */
  slowLogs?: string[] | undefined;
  output?: string | undefined;
  keyFile?: string | undefined;
  clusterId?: string | undefined;
  instanceId?: string | undefined;
  maxEvents?: number | undefined;
}

/** At most this many unreadable lines are printed; the rest are counted. */
const MAX_PROBLEMS_SHOWN = 100;

export async function importCommand(opts: ImportOptions, io: Io): Promise<number> {
  const entry = Object.hasOwn(IMPORTERS, opts.format) ? IMPORTERS[opts.format] : undefined;
  if (entry === undefined) throw new UsageError(`import: unknown format ${JSON.stringify(opts.format)}; one of: ${Object.keys(IMPORTERS).join(', ')}`);
  if (opts.files.length === 0) throw new UsageError(`import ${opts.format}: no FILE given`);
  const slowLogs = opts.slowLogs ?? [];
  if (slowLogs.length > 0 && !entry.slowLog) throw new UsageError(`import ${opts.format}: --slow-log is for mariadb-audit (MariaDB's slow query log)`);
  for (const f of [...opts.files, ...slowLogs]) {
    try {
      if (!statSync(f).isFile()) throw new Error('not a file');
    } catch (err) {
      throw new UsageError(`import ${opts.format}: cannot read ${f}: ${(err as Error).message}`);
    }
  }
  const importer = await entry.load({ slowLogs });
  const clusterId = opts.clusterId ?? fakeResourceId('cluster', importer.idSeed);
  const instanceId = opts.instanceId ?? fakeResourceId('db', importer.idSeed);
  const idProblems = [
    ...(clusterId.startsWith('cluster-') && resourceIdProblem(clusterId) === undefined ? [] : [`--cluster-id: expected cluster-… (a DbClusterResourceId), got ${JSON.stringify(clusterId)}`]),
    ...(instanceId.startsWith('db-') && resourceIdProblem(instanceId) === undefined ? [] : [`--instance-id: expected db-… (a DbiResourceId), got ${JSON.stringify(instanceId)}`]),
  ];
  if (idProblems.length > 0) throw new UsageError(idProblems.join('\n'));
  const wrapper = opts.keyFile !== undefined ? LocalKeyProvider.fromFile(opts.keyFile) : undefined;

  // --output DIR writes DIR/aws-rds-das-<cluster id>.jsonl: the file name replay takes the resource id from. A path
  // ending in '/' is a directory, made when missing (`--output streams/` on a fresh checkout).
  let outPath = opts.output;
  if (outPath !== undefined && /[\\/]$/.test(outPath) && !isDirectory(outPath)) mkdirSync(outPath, { recursive: true });
  if (outPath !== undefined && isDirectory(outPath)) outPath = join(outPath, `${streamNameFor(clusterId)}.jsonl`);
  const out: Writable = outPath !== undefined ? createWriteStream(outPath) : io.stdout;
  const opened = outPath !== undefined ? new Promise<void>((resolve, reject) => out.once('open', () => resolve()).once('error', reject)) : Promise.resolve();
  try {
    await opened;
  } catch (err) {
    throw new UsageError(`import: cannot write ${outPath}: ${(err as Error).message}`);
  }
  const writer = new RecordWriter({ clusterId, instanceId, version: importer.version, out, wrapper, maxEvents: opts.maxEvents });
  let problems = 0;
  const report = await importer.readFiles(opts.files, {
    event: (e) => writer.add(e),
    problem(file, line, message) {
      problems++;
      if (problems <= MAX_PROBLEMS_SHOWN) io.stderr.write(terminalSafe(`${file}:${line}: ${message}`) + '\n');
    },
  });
  const counts = await writer.end();
  if (outPath !== undefined) {
    out.end();
    await finished(out);
  }
  if (problems > MAX_PROBLEMS_SHOWN) io.stderr.write(`(${problems - MAX_PROBLEMS_SHOWN} more unreadable lines not shown)\n`);
  io.stderr.write(
    `import ${opts.format}: ${counts.events} event${counts.events === 1 ? '' : 's'} in ${counts.records} record${counts.records === 1 ? '' : 's'}` +
      ` (${clusterId}, ${instanceId}, version ${importer.version}${wrapper !== undefined ? ', encrypted' : ''})` +
      `${outPath !== undefined ? ` -> ${outPath}` : ''}; ${problems} unreadable line${problems === 1 ? '' : 's'}${report ? `; ${report.summary}` : ''}\n`,
  );
  return problems > 0 ? ExitCode.quarantined : ExitCode.ok;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

// ---- The command-line declaration of `import` (src/cli.ts lists it; src/commands/command.ts).
import { defineCommand, renderHelp } from './command.js';

export const importCli = defineCommand({
  name: 'import',
  usage: 'Usage: dasguard import pgaudit|mariadb-audit FILE... [--slow-log SLOWLOG] [--output FILE|DIR] [--key-file PATH] [--cluster-id ID] [--instance-id ID] [--max-events N]',
  description:
    "Turns a database's own audit log into DAS records, as Kinesis JSON Lines that replay and decode read (docs/import.md):\n" +
    '  pgaudit  PostgreSQL csvlog or jsonlog: pgaudit AUDIT lines, connections, failed logins, ERROR lines\n' +
    '  mariadb-audit  MariaDB server_audit log: connections, failed logins, statements and the tables they touch\n' +
    '                 (with --slow-log, their row counts from the slow log)\n' +
    'Streamed (any size of log). Plaintext envelopes (as samples/plaintext) by default; encrypted like a real stream with\n' +
    '--key-file. An unreadable line is reported as file:line and skipped. Exit 0; 1 when some lines could not be read; 2\n' +
    'for bad usage.',
  options: {
    'slow-log': {
      type: 'string',
      multiple: true,
      label: '--slow-log SLOWLOG',
      help: "mariadb-audit: MariaDB's slow query log (long_query_time=0): each statement's rowCount from its\nRows_sent (or Rows_affected); again for rotated files, oldest first",
    },
    output: {
      type: 'string',
      label: '--output FILE|DIR',
      help: 'Write there instead of stdout; a directory gets aws-rds-das-<cluster id>.jsonl (the name replay\ntakes the resource id from)',
    },
    'key-file': { type: 'string', label: '--key-file PATH', help: 'Encrypt the records under this local master-key file (samples/demo-master-key.json)' },
    'cluster-id': {
      type: 'string',
      label: '--cluster-id ID',
      help: 'The records\' clusterId (cluster-…); default: a DAS-shaped id derived from the format name,\nthe same on every import',
    },
    'instance-id': { type: 'string', label: '--instance-id ID', help: 'The records\' instanceId (db-…); default: derived like --cluster-id' },
    'max-events': { type: 'string', label: '--max-events N', help: `Events per record at most (default ${DEFAULT_MAX_EVENTS}); a record also ends with each second of log time` },
  },
  run(v, positionals, io) {
    const [format, ...files] = positionals;
    if (format === undefined) throw new UsageError(`import needs a format (${Object.keys(IMPORTERS).join(', ')})\n\n${renderHelp(importCli)}`);
    let maxEvents: number | undefined;
    if (v['max-events'] !== undefined) {
      maxEvents = Number(v['max-events']);
      if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new UsageError(`--max-events: expected a whole number of at least 1, got ${JSON.stringify(v['max-events'])}`);
    }
    return importCommand({ format, files, slowLogs: v['slow-log'], output: v.output, keyFile: v['key-file'], clusterId: v['cluster-id'], instanceId: v['instance-id'], maxEvents }, io);
  },
});
