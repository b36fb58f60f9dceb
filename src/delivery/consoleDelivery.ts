/**
 * The built-in delivery, used when no delivery is configured (no dasguard.yaml, no shortcut flag or variable):
 * one console sink on stdout, in the command's format (text, coloured on a terminal, or JSON Lines), and one
 * default route to it, opened as a direct DeliveryHandoff (no outbox: nothing is written to disk). Alerts take
 * the same suppression, routing and redaction code as any configured delivery; the route adds no masking
 * (`none`): the pipeline redacted the alerts already (--redaction, DASGUARD_REDACTION), and printing them adds
 * nothing, so the output is what `replay`, `run`, `watch` and the Lambda have always printed.
 */
import type { Writable } from 'node:stream';
import type { OutputFormat } from '../pipeline/output.js';
import type { DeliveryConfig } from './config.js';
import { DeliveryHandoff } from './DeliveryHandoff.js';
import { ConsoleSink } from './sinks/index.js';

const BUILTIN_SINK = 'console';

/** The config of the built-in delivery (what a dasguard.yaml saying the same would give). */
export function builtinDeliveryConfig(format: OutputFormat): DeliveryConfig {
  return {
    source: 'the built-in delivery (no delivery config)',
    sinks: { [BUILTIN_SINK]: { type: 'console', stream: 'stdout', format } },
    routes: [{ name: BUILTIN_SINK, sinks: [BUILTIN_SINK], default: true, redaction: 'none' }],
    suppression: [],
    delivery: {},
    secrets: [],
  };
}

/**
 * Alerts printed on `out` (text or JSON Lines, `color` for text on a terminal, `verbose` for text with the record's
 * position and the runbook) through the built-in delivery.
 */
export function consoleHandoff(out: Writable, format: OutputFormat, color = false, verbose = false): DeliveryHandoff {
  // Built here rather than from the config: only this console sink colours (a configured one never does).
  const sinks = new Map([[BUILTIN_SINK, new ConsoleSink(BUILTIN_SINK, out, format, color, verbose)]]);
  return DeliveryHandoff.direct(builtinDeliveryConfig(format), { stdout: out, sinks });
}
