/**
 * `npm run detection`: replays the committed labelled corpora (test/corpus/<engine>/, built by `npm run corpus`; an
 * engine whose directory is absent is skipped, saying so)
 * through the bundled pack (rules/) with `dasguard replay`, in-process, and prints per incident category:
 * incidents, detected (at least one alert whose events belong to the incident), recall, alerts per detected
 * incident, and false alerts per 100,000 benign events (alerts whose events are all benign), with the rules they came from. Alerts on the
 * provisioning sessions (labels.json `provisioning`: the DBA creating roles and the database) count as neither.
 * An alert's events are its event (a single-event rule) or the first and last contributing events of a
 * correlation; they belong to an incident by their sessionId (labels.json lists each incident's sessions).
 * `measure` is also used by test/e2e/detection.test.ts, which holds the figures.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { jsonLines, runCli } from '../test/support/cli.js';

export interface Labels {
  incidents: { id: string; category: string; sessions: string[] }[];
  /** The sessions of the DBA's provisioning (roles, database): neither incident nor benign load. */
  provisioning?: string[];
  benignEvents: number;
}

export interface CategoryFigures {
  category: string;
  incidents: number;
  detected: number;
  recall: number;
  /** Alerts belonging to the category's detected incidents, per detected incident (0 when none detected). */
  alertsPerDetected: number;
  /** The incidents no alert belongs to. */
  missed: string[];
}

export interface Detection {
  categories: CategoryFigures[];
  benignEvents: number;
  falseAlerts: { ruleId: string; count: number }[];
  falseAlertsPer100k: number;
}

/** The sessionIds of an alert's events. */
function sessionsOf(alert: { event?: Record<string, unknown> }): string[] {
  const e = alert.event ?? {};
  const evs = 'correlation' in e ? [e.first, e.last] : [e];
  return evs.map((x) => (x as Record<string, unknown> | undefined)?.sessionId).filter((s): s is string => typeof s === 'string');
}

export async function measure(corpusDir: string, rulesDir = 'rules'): Promise<Detection> {
  const labels = JSON.parse(await readFile(join(corpusDir, 'labels.json'), 'utf8')) as Labels;
  const tmp = await mkdtemp(join(tmpdir(), 'dg-detection-'));
  try {
    const file = join(tmp, 'events.jsonl');
    await writeFile(file, gunzipSync(await readFile(join(corpusDir, 'events.jsonl.gz'))));
    const r = await runCli(['replay', file, '--rules', rulesDir, '--output', 'jsonl', '--quiet']);
    if (r.code !== 0) throw new Error(`replay failed (${r.code}): ${r.stderr}`);
    const alerts = jsonLines(r.stdout) as { ruleId: string; event?: Record<string, unknown> }[];
    const incidentOf = new Map(labels.incidents.flatMap((i) => i.sessions.map((s) => [s, i.id] as const)));
    const provisioning = new Set(labels.provisioning ?? []);
    const alertsOf = new Map<string, number>();
    const falseAlerts = new Map<string, number>();
    for (const a of alerts) {
      const owners = new Set(sessionsOf(a).map((s) => incidentOf.get(s)).filter((x): x is string => x !== undefined));
      if (owners.size === 0 && sessionsOf(a).every((s) => provisioning.has(s))) continue;
      if (owners.size === 0) falseAlerts.set(a.ruleId, (falseAlerts.get(a.ruleId) ?? 0) + 1);
      for (const o of owners) alertsOf.set(o, (alertsOf.get(o) ?? 0) + 1);
    }
    const categories = [...new Set(labels.incidents.map((i) => i.category))].map((category): CategoryFigures => {
      const incs = labels.incidents.filter((i) => i.category === category);
      const detected = incs.filter((i) => alertsOf.has(i.id));
      const n = detected.reduce((s, i) => s + alertsOf.get(i.id)!, 0);
      return {
        category,
        incidents: incs.length,
        detected: detected.length,
        recall: detected.length / incs.length,
        alertsPerDetected: detected.length === 0 ? 0 : n / detected.length,
        missed: incs.filter((i) => !alertsOf.has(i.id)).map((i) => i.id),
      };
    });
    const falseCount = [...falseAlerts.values()].reduce((s, n) => s + n, 0);
    return {
      categories,
      benignEvents: labels.benignEvents,
      falseAlerts: [...falseAlerts].map(([ruleId, count]) => ({ ruleId, count })).sort((a, b) => b.count - a.count || a.ruleId.localeCompare(b.ruleId)),
      falseAlertsPer100k: labels.benignEvents === 0 ? 0 : (falseCount * 100_000) / labels.benignEvents,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The table `npm run detection` prints. */
export function formatDetection(engine: string, d: Detection): string {
  const rows = [['category', 'incidents', 'detected', 'recall', 'alerts/detected', 'missed']];
  for (const c of d.categories) rows.push([c.category, String(c.incidents), String(c.detected), `${Math.round(c.recall * 100)}%`, c.alertsPerDetected.toFixed(2), c.missed.join(' ') || '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd());
  const total = d.falseAlerts.reduce((s, f) => s + f.count, 0);
  lines.push(`false alerts: ${total} on ${d.benignEvents} benign events = ${d.falseAlertsPer100k.toFixed(1)} per 100,000` + (total > 0 ? ` (${d.falseAlerts.map((f) => `${f.ruleId} ${f.count}`).join(', ')})` : ''));
  return `${engine}\n${lines.join('\n')}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  (async () => {
    for (const engine of ['postgresql', 'mysql']) {
      const dir = join('test', 'corpus', engine);
      if (!existsSync(dir)) {
        process.stderr.write(`detection: no ${dir} (npm run corpus -- ${engine}): ${engine} skipped\n`);
        continue;
      }
      process.stdout.write(formatDetection(engine, await measure(dir)));
    }
  })().catch((e: unknown) => {
    process.stderr.write(`detection: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
