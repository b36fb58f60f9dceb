/**
 * What the engine corpus builders (postgresql.ts, mysql.ts) share: the log clock (where each phase of a run lands in
 * log time), the incident log (the wall-clock span of each scripted incident), and the labelling and writing of a
 * corpus directory (events.jsonl.gz, labels.json, counts.json; test/corpus/README.md describes them).
 *
 * Labels are keyed by the events' sessionId: a session whose FIRST event was logged while an incident's commands ran
 * belongs to that incident (nothing else runs during an incident, so this is exact).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../../test/support/cli.js';

/** A scripted incident: its wall-clock span while recorded, its log-time span once `IncidentLog.inLogTime` ran. */
export interface Incident {
  id: string;
  category: string;
  startMs: number;
  endMs: number;
}

/**
 * Where the wall clock of this run lands in log time. The script runs in minutes at whatever time of day; its log is
 * moved so that each phase has the log time it stands for (a working day, a night, one of several days of benign
 * load, incidents minutes apart). `mark(logMs)` says: from now on, until the next mark, wall time maps to logMs on.
 */
export class LogClock {
  private readonly marks: { wallMs: number; logMs: number }[] = [];

  mark(logMs: number): void {
    this.marks.push({ wallMs: Date.now(), logMs });
  }

  /** The log time of a wall-clock time (a time before the first mark moves with the first mark). */
  toLog(wallMs: number): number {
    if (this.marks.length === 0) throw new Error('LogClock.toLog before any mark');
    let m = this.marks[0]!;
    for (const x of this.marks) if (x.wallMs <= wallMs) m = x;
    return wallMs + (m.logMs - m.wallMs);
  }
}

/** The incidents of a run, one after the other, each starting `gapMs` of log time after the one before by default. */
export class IncidentLog {
  readonly incidents: Incident[] = [];
  private readonly seq = new Map<string, number>();
  private nextLogMs: number;

  constructor(private readonly clock: LogClock, firstLogMs: number, private readonly gapMs: number) {
    this.nextLogMs = firstLogMs;
  }

  /**
   * Runs one incident of `category` (ids `<category>-1`, `-2`...). `atLogMs` places it at a given log time (an
   * off-hours incident at night); the next one then follows it by the gap.
   */
  async run(category: string, body: () => Promise<unknown>, atLogMs?: number): Promise<void> {
    const n = (this.seq.get(category) ?? 0) + 1;
    this.seq.set(category, n);
    const logMs = atLogMs ?? this.nextLogMs;
    this.clock.mark(logMs);
    const startMs = Date.now();
    await body();
    const endMs = Date.now();
    this.incidents.push({ id: `${category}-${n}`, category, startMs, endMs });
    this.nextLogMs = logMs + (endMs - startMs) + this.gapMs;
  }

  /** The incidents with their spans in log time. */
  inLogTime(): Incident[] {
    return this.incidents.map((i) => ({ ...i, startMs: this.clock.toLog(i.startMs), endMs: this.clock.toLog(i.endMs) }));
  }
}

/** An event's logTime (`2026-10-14 09:00:00.123+00`, or with `+00:00`/`Z`) in ms since the epoch. */
export function logTimeMs(ev: Record<string, unknown>): number {
  const s = String(ev.logTime);
  const t = Date.parse(s.replace(' ', 'T').replace(/(\+00(:00)?|Z)$/, 'Z'));
  if (!Number.isFinite(t)) throw new Error(`an event time the corpus script cannot read: ${s}`);
  return t;
}

/** The events of Kinesis JSON Lines with plaintext records (as `dasguard import` writes without --key-file). */
export function* eventsOf(jsonl: string): Generator<Record<string, unknown>> {
  for (const line of jsonl.split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as { databaseActivityEvents: unknown };
    const dae = rec.databaseActivityEvents;
    const inner = (typeof dae === 'string' ? JSON.parse(dae) : dae) as { databaseActivityEventList: Record<string, unknown>[] };
    for (const ev of inner.databaseActivityEventList) if (ev.type === 'record') yield ev;
  }
}

/**
 * Labels the imported events and writes the corpus to `outDir`. `incidents` and `provisioning` (the spans of the
 * setup: roles, databases, schemas; neither incident nor benign) are in log time.
 */
export async function writeCorpus(outDir: string, jsonl: string, incidents: Incident[], provisioning: { startMs: number; endMs: number }[]): Promise<string> {
  const firstSeen = new Map<string, number>();
  let events = 0;
  for (const ev of eventsOf(jsonl)) {
    events++;
    const s = String(ev.sessionId);
    const t = logTimeMs(ev);
    if (!firstSeen.has(s) || t < firstSeen.get(s)!) firstSeen.set(s, t);
  }
  const within = (span: { startMs: number; endMs: number }) => [...firstSeen].filter(([, t]) => t >= span.startMs && t <= span.endMs).map(([s]) => s);
  const labelled = incidents.map((inc) => ({ id: inc.id, category: inc.category, sessions: within(inc).sort() }));
  const empty = labelled.filter((l) => l.sessions.length === 0);
  if (empty.length > 0) throw new Error(`incidents with no session in the log: ${empty.map((l) => l.id).join(', ')}`);
  const setup = new Set(provisioning.flatMap(within));
  const categoryOf = new Map(labelled.flatMap((l) => l.sessions.map((s) => [s, l.category] as const)));
  let benignEvents = 0;
  const perCategory: Record<string, { incidents: number; events: number }> = {};
  for (const l of labelled) (perCategory[l.category] ??= { incidents: 0, events: 0 }).incidents++;
  for (const ev of eventsOf(jsonl)) {
    const s = String(ev.sessionId);
    if (setup.has(s)) continue;
    const c = categoryOf.get(s);
    if (c === undefined) benignEvents++;
    else perCategory[c]!.events++;
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'events.jsonl.gz'), gzipSync(jsonl, { level: 9 }));
  await writeFile(join(outDir, 'labels.json'), JSON.stringify({ incidents: labelled, provisioning: [...setup].sort(), benignEvents }, null, 2) + '\n');
  const incidentEvents = Object.values(perCategory).reduce((n, c) => n + c.events, 0);
  await writeFile(join(outDir, 'counts.json'), JSON.stringify({ events, benignEvents, incidentEvents, incidentSessions: categoryOf.size, perCategory }, null, 2) + '\n');
  return `corpus: ${events} events (${benignEvents} benign), ${labelled.length} incidents -> ${outDir}\n`;
}

/**
 * `dasguard import <format> <log> [args...]` into `workDir`/imported/ (its summary on stderr): the Kinesis JSON Lines
 * it wrote. `args`: more of import's options (mariadb-audit's `--slow-log FILE`).
 */
export async function importLog(format: string, log: string, workDir: string, args: string[] = []): Promise<string> {
  const imported = join(workDir, 'imported');
  await mkdir(imported);
  const imp = await runCli(['import', format, log, ...args, '--output', imported]);
  if (imp.code !== 0) throw new Error(`import failed: ${imp.stderr}`);
  process.stderr.write(imp.stderr);
  const [file] = await readdir(imported);
  return readFile(join(imported, file!), 'utf8');
}
