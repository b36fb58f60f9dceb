/**
 * Every limit dasguard puts on what it reads, in one place (the README's "Limits" list says the same). Each is far
 * above anything Aurora sends and low enough that one crafted record cannot exhaust the stack, the heap or V8's
 * string length: input past a limit is poison (quarantined with its own PoisonReason and its position), never a
 * crash, so `run` passes it instead of crash-looping on it.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Objects and arrays nested inside each other, counted from an activity event (the event itself is level 1) or from
 * a top-level value of an input file. DAS events nest 3 levels (`engineNativeAuditFields`, `paramList`); the
 * recursive code that handles JSON (JSON.stringify, copies, redaction) overflows the stack near 5,000.
 * Past it: the event is quarantined alone (`too-deep`); a plaintext input value, whole.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * How deep a plaintext envelope holds its events (envelope, `databaseActivityEvents`, the event list): a plaintext
 * input value may nest this much more than MAX_JSON_DEPTH, so that an event is judged alike in plaintext and
 * encrypted records.
 */
export const ENVELOPE_LEVELS = 3;

/**
 * A Kinesis record's data: 10 MiB, the largest record Kinesis Data Streams carries (the default per stream is
 * 1 MiB, `UpdateMaxRecordSize` raises it to 10 MiB). Checked before base64 decoding. Past it: `record-too-large`.
 */
export const MAX_RECORD_BYTES = 10 * MiB;

/**
 * A record's decrypted payload once gunzipped. DAS payloads are a few KiB to a few MiB; gzip expands at most
 * ~1,000 times, so a 1 MiB record could otherwise become 1 GiB. Decompression stops here: `payload-too-large`.
 */
export const MAX_PAYLOAD_BYTES = 64 * MiB;

/**
 * One line of a JSON Lines input, or one top-level value (or top-level array element) of a JSON document, in
 * characters. Above the largest legitimate value (a `get-records` response: at most 10 MiB of data, ~14 MB of
 * base64) and no less than MAX_PAYLOAD_BYTES, so a plaintext record is never refused where its encrypted twin is
 * accepted. Past it: the line or value is skipped without being held (`value-too-large`), reading resumes after it.
 */
export const MAX_INPUT_VALUE_CHARS = 64 * MiB;

/**
 * One alert as JSON (UTF-8), when it is built: the limit of an SNS message and of a CloudWatch Logs event. Past it
 * the alert is shortened, never dropped (commandText first, then paramList, then the event keeps only who/where
 * fields) and says `truncated: true` (src/pipeline/alertSize.ts).
 */
export const MAX_ALERT_BYTES = 256 * KiB;

// Configuration files: rule files, dasguard.yaml, loss-window patterns (src/config/yamlTree.ts, rules/condition.ts).

/**
 * What aliases may do in one file. An alias stands for a copy of its anchor's node, so nine lines of nine
 * aliases each ("billion laughs") stand for 9^9 values: without a cap, a 434-byte file took 1.5 GB and 51 s. The
 * `yaml` library's own guard (`maxAliasCount`) is a `toJS` option; it does nothing for the document API that
 * this tree is built from, and it would not say where. So the cap is here: how many aliases a file may use, and
 * how much they may stand for, counted as the characters of YAML each alias would be if written out in full
 * (so aliases can add at most the equivalent of 1 MB of text). Both are far above what shared test events,
 * lists and sinks need.
 */
export const YAML_ALIAS_LIMITS = { aliases: 1_000, expandedChars: 1_000_000 } as const;

/** YAML nesting deeper than this is refused at its line (rule conditions and configs need a handful of levels). */
export const MAX_YAML_DEPTH = 200;

/**
 * Most field tests one rule's condition may hold, macros expanded. A macro is parsed once and shared, but the
 * rule is compiled (and evaluated) with every use expanded: seven macros each using the previous one nine times
 * are a 700-byte file that stands for 9^6 tests, eighteen seconds and 1.5 GB to compile at eight. Far above
 * what a real rule holds.
 */
export const MAX_CONDITION_TESTS = 10_000;

/** The same for all the rules loaded together (a bundled pack holds a few hundred). */
export const MAX_RULE_SET_TESTS = 200_000;

/**
 * Whether `value` nests objects/arrays more than `max` levels deep (`value` itself, when an object or array, is
 * level 1). Iterative, so any depth is safe; it stops at the first value past `max`. A value holding no object or
 * array (the usual `paramList`) costs one loop over it and no allocation.
 */
export function nestsDeeperThan(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  let stack: object[] | undefined;
  let depths: number[] | undefined;
  let v: object | undefined = value;
  let depth = 1;
  while (v !== undefined) {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (typeof c !== 'object' || c === null) continue;
        if (depth >= max) return true;
        (stack ??= []).push(c);
        (depths ??= []).push(depth + 1);
      }
    } else {
      const o = v as Record<string, unknown>;
      for (const k in o) {
        const c = o[k];
        if (typeof c !== 'object' || c === null) continue;
        if (depth >= max) return true;
        (stack ??= []).push(c);
        (depths ??= []).push(depth + 1);
      }
    }
    v = stack?.pop();
    depth = depths?.pop() ?? 0;
  }
  return false;
}

/**
 * Why a DAS event cannot be kept, or undefined. Runs for every event, so the common case is one loop over the
 * event's own fields: only a field that is an object or an array is walked (iteratively).
 */
export function eventDepthProblem(event: Record<string, unknown>): string | undefined {
  for (const k in event) {
    const v = event[k];
    if (typeof v === 'object' && v !== null && nestsDeeperThan(v, MAX_JSON_DEPTH - 1)) {
      return `field "${k.slice(0, 64)}" nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep (the limit)`;
    }
  }
  return undefined;
}

/** The number of bytes `text` holds when it is base64 (padded): known before decoding it. */
export function base64ByteLength(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor(text.length / 4) * 3 - pad);
}

/** Why record data of `bytes` bytes is refused, or undefined. */
export function recordSizeProblem(bytes: number): string | undefined {
  if (bytes <= MAX_RECORD_BYTES) return undefined;
  return `${bytes} bytes, over the ${formatBytes(MAX_RECORD_BYTES)} a Kinesis record can hold (the limit)`;
}

/** `64 MiB`, `256 KiB`, `123 bytes`. */
export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}
