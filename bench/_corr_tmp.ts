import { benchRuleSet } from '/work/main/bench/rules.js';
import { realisticEvents } from '/work/main/bench/rules.js';
import { CorrelationEngine } from '/work/main/src/rules/CorrelationEngine.js';
const n = 50_000;
const ruleSet = await benchRuleSet('/work/main/rules');
const events = realisticEvents(n, 1).map((e: any, i: number) => ({ ...e, logTimeMs: 1_700_000_000_000 + i * 10, statementId: i }));
const base = events.map((e: any) => ruleSet.baseMatches(e));
const counts = new Map<string, number>();
for (const b of base) for (const c of b) counts.set(c.info.id, (counts.get(c.info.id) ?? 0) + 1);
console.log([...counts].map(([k, v]) => `${k}:${v}`).join(' '));
for (let round = 0; round < 6; round++) {
  const engine = new CorrelationEngine();
  const t0 = process.hrtime.bigint();
  let k = 0;
  for (let i = 0; i < n; i++) for (const c of base[i]!) if (engine.observe(c, events[i]) !== undefined) k++;
  const ns = Number(process.hrtime.bigint() - t0);
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) ruleSet.evaluate(events[i]);
  const ns2 = Number(process.hrtime.bigint() - t1);
  console.log(`observe: ${(ns / n).toFixed(0)} ns/event (${k} firings); stateless evaluate ${(ns2 / n).toFixed(0)} ns/event`);
}
