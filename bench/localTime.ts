/**
 * The cost of the local-time fields (hour, weekday, timeOfDay...: src/rules/localTime.ts): the baseline pack and the
 * bench's extra rules, without and with a rule that reads timeOfDay and weekday on every event (unindexed, so the
 * worst case), events `STEP` ms apart (default 37; 60000 makes every event a new minute). Run:
 * `node --import tsx bench/localTime.ts [STEP]`.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { loadRules, loadRuleTexts, type RuleSet } from '../src/rules/index.js';
import { EXTRA_RULES, realisticEvents } from './rules.js';
import { localTimeOf } from '../src/rules/localTime.js';
const pack = await loadRules([join(dirname(fileURLToPath(import.meta.url)), '..', 'rules')]);
const texts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
const TIME = `
timeZone: Europe/Paris
rules:
  - id: t-night
    severity: low
    when:
      all:
        - timeOfDay: {between: "22:00-06:00"}
        - weekday: {in: [sat, sun]}
`;
const load = (extra: string[]): RuleSet => {
  const r = loadRuleTexts([...texts, { file: 'x.yaml', text: EXTRA_RULES }, ...extra.map((t, i) => ({ file: `t${i}.yaml`, text: t }))]);
  if (!r.ruleSet) throw new Error(JSON.stringify(r.problems));
  return r.ruleSet;
};
const n = 100_000;
const events = realisticEvents(n, 1);
const stepMs = Number(process.argv[2] ?? 37);
const base = Date.parse('2024-05-01T00:00:00Z');
events.forEach((e, i) => { e.logTimeMs = base + i * stepMs; });
function run(rs: RuleSet): number {
  for (let i = 0; i < 5000; i++) rs.evaluate(events[i]!);
  let best = 0;
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) rs.evaluate(events[i]!);
    best = Math.max(best, n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return Math.round(best);
}
const without = run(load([]));
const withTime = run(load([TIME]));
console.log(`step ${stepMs} ms between events: pack+extra ${without} ev/s; + a time rule read on every event ${withTime} ev/s; cost ${((1e9 / withTime - 1e9 / without)).toFixed(0)} ns/event`);
let t0 = process.hrtime.bigint(); let x = 0;
for (let i = 0; i < 200_000; i++) x += localTimeOf(base + i * 60_000, 'Europe/Paris')!.hour;
console.log(`localTimeOf, a new minute every call: ${(Number(process.hrtime.bigint() - t0) / 200_000).toFixed(0)} ns/call`);
