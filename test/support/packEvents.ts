/**
 * Events the pack's rules are checked on (the index against the predicates, the stored part of an event against its
 * redacted copy): the plaintext samples, both real-server corpora (test/corpus) and every event of the rules' tests.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { decodeRecord } from '../../src/codec/decode.js';
import { readInputs } from '../../src/input/readInputs.js';
import { completeTestEvent } from '../../src/rules/index.js';
import type { CompiledRuleSet } from '../../src/rules/RuleSet.js';

export async function packEvents(rs: CompiledRuleSet): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const it of readInputs(['samples/plaintext'])) if (it.kind === 'record') out.push(...(await decodeRecord(it.record.data, {})).events);
  for (const engine of ['postgresql', 'mysql']) {
    const lines = gunzipSync(readFileSync(`test/corpus/${engine}/events.jsonl.gz`)).toString('utf8').trim().split('\n');
    for (const line of lines) out.push(...(await decodeRecord(Buffer.from(line), {})).events);
  }
  for (const r of rs.compiledRules()) {
    for (const s of r.tests?.sequences ?? []) for (const { event } of s.events) out.push(completeTestEvent(event));
    for (const { event } of [...(r.tests?.fires ?? []), ...(r.tests?.doesNotFire ?? [])]) out.push(completeTestEvent(event));
  }
  return out;
}
