/**
 * Alerts printed on stdout or stderr (text or JSON Lines), honouring backpressure: a configured `console` sink,
 * and the built-in delivery's only sink (consoleDelivery.ts), which alone colours text by severity.
 */
import type { Writable } from 'node:stream';
import { formatAlert, writeLine, type OutputFormat } from '../../pipeline/output.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';

export class ConsoleSink implements Sink {
  readonly type = 'console';
  readonly maxBatch = 100;

  constructor(
    readonly name: string,
    private readonly out: Writable,
    private readonly format: OutputFormat = 'text',
    /** ANSI colours by severity (text only): the built-in delivery on a terminal. */
    private readonly color = false,
    /** Text only: the record's position and the runbook too (--verbose). */
    private readonly verbose = false,
  ) {}

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    for (const a of alerts) {
      let line = formatAlert(a, this.format, this.color, this.verbose);
      if (this.format === 'text' && a.suppressedCount) line += ` (+${a.suppressedCount} suppressed)`;
      await writeLine(this.out, line);
    }
    return alerts.map(() => ({ ok: true }));
  }

  async close(): Promise<void> {
    // the stream is not ours to end
  }
}
