/**
 * Where a CLI setting's value comes from, decided in ONE place: the command-line flag over the config file
 * (dasguard.yaml) over the default. SETTINGS names each layered setting's flag, file key and default; `layered`
 * applies the precedence and says which layer won.
 * No layered setting reads a DASGUARD_* variable; the one the CLI reads is the logger's level (LOG_LEVEL_ENV in
 * src/log/logger.ts, under --log-level: the same name wherever a log is written, the Lambda's spec uses it). The Lambda handler, which has no flags, reads its settings from its
 * environment only: every DASGUARD_* variable, its name and its default, is defined once, in LAMBDA_ENV
 * (src/config/lambdaEnv.ts), which takes the shared defaults (the redaction mode) from here. A value is checked
 * by its source's one checker: a flag by commands/options.ts, a variable by the Lambda's spec, a file key by the
 * file's spec; none is checked here (`--redaction` and DASGUARD_REDACTION share REDACTION_MODES and the default
 * below).
 */
import { existsSync } from 'node:fs';
import type { RedactionMode } from '../redaction/index.js';
import { DEFAULT_LOG_LEVEL } from '../log/logger.js';

/** The file read when no --config is given and ./dasguard.yaml exists (the CLI only; the Lambda needs DASGUARD_CONFIG). */
export const DEFAULT_CONFIG_FILE = 'dasguard.yaml';
/** The delivery outbox when neither --outbox-dir nor the file's delivery.outboxDir says otherwise. */
export const DEFAULT_OUTBOX_DIR = '.dasguard/outbox';
/** `run`'s checkpoint files (and where `status` looks for them) without --checkpoint-dir. */
export const DEFAULT_CHECKPOINT_DIR = '.dasguard/checkpoints';

/** Each layered setting: its flag, its key in dasguard.yaml, its default. */
export const SETTINGS = {
  configFile: { flag: '--config', default: undefined },
  outboxDir: { flag: '--outbox-dir', file: 'delivery.outboxDir', default: DEFAULT_OUTBOX_DIR },
  redaction: { flag: '--redaction', default: 'literals' as RedactionMode },
  logLevel: { flag: '--log-level', default: DEFAULT_LOG_LEVEL },
} as const;

/** A setting's candidate values by layer; undefined: that layer does not set it. */
export interface Layers<T> {
  flag?: T | undefined;
  file?: T | undefined;
}

/** The winning value and the layer it came from. */
export interface Layered<T> {
  value: T;
  from: 'flag' | 'file' | 'default';
}

/** Flag over file over `fallback`. */
export function layered<T>(layers: Layers<T>, fallback: T): Layered<T> {
  if (layers.flag !== undefined) return { value: layers.flag, from: 'flag' };
  if (layers.file !== undefined) return { value: layers.file, from: 'file' };
  return { value: fallback, from: 'default' };
}

/**
 * The delivery config file to read: --config (or the Lambda's DASGUARD_CONFIG, passed as the same layer), else
 * ./dasguard.yaml when `implicit` (the CLI) and it exists; undefined: no file.
 */
export function deliveryConfigFile(layers: Pick<Layers<string>, 'flag'>, opts: { implicit: boolean }): string | undefined {
  const implicit = opts.implicit && existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : SETTINGS.configFile.default;
  return layered(layers, implicit).value;
}

/** The outbox directory: --outbox-dir (or the caller's own, e.g. the Lambda's), else the file's delivery.outboxDir, else the default. */
export function outboxDir(layers: Layers<string>, fallback: string = SETTINGS.outboxDir.default): string {
  return layered(layers, fallback).value;
}
