/**
 * Where a setting's value comes from, decided in ONE place: a command-line flag (the CLI) or an environment
 * variable (the Lambda handler, which has no flags) over the config file (dasguard.yaml) over the default.
 * SETTINGS names each layered setting's flag, variable, file key and default; `layered` applies the precedence
 * and says which layer won.
 * The CLI reads no DASGUARD_* variable: its layers are the flag, the file and the default. A value is checked by
 * its source's one checker: a flag by commands/options.ts, a variable by the Lambda's spec (lambdaEnv.ts), a file
 * key by the file's spec; none is checked here (`--redaction` and DASGUARD_REDACTION share REDACTION_MODES and
 * the default below).
 */
import { existsSync } from 'node:fs';
import type { RedactionMode } from '../redaction/index.js';

/** The file read when no --config is given and ./dasguard.yaml exists (the CLI only; the Lambda needs DASGUARD_CONFIG). */
export const DEFAULT_CONFIG_FILE = 'dasguard.yaml';
/** The delivery outbox when neither --outbox-dir nor the file's delivery.outboxDir says otherwise. */
export const DEFAULT_OUTBOX_DIR = '.dasguard/outbox';
/** `run`'s checkpoint files (and where `status` looks for them) without --checkpoint-dir. */
export const DEFAULT_CHECKPOINT_DIR = '.dasguard/checkpoints';

/** Each layered setting: its flag, its environment variable, its key in dasguard.yaml, its default. */
export const SETTINGS = {
  configFile: { flag: '--config', env: 'DASGUARD_CONFIG', default: undefined },
  outboxDir: { flag: '--outbox-dir', env: 'DASGUARD_OUTBOX_DIR', file: 'delivery.outboxDir', default: DEFAULT_OUTBOX_DIR },
  checkpointDir: { flag: '--checkpoint-dir', default: DEFAULT_CHECKPOINT_DIR },
  redaction: { flag: '--redaction', env: 'DASGUARD_REDACTION', default: 'literals' as RedactionMode },
} as const;

/** A setting's candidate values by layer; undefined: that layer does not set it. */
export interface Layers<T> {
  flag?: T | undefined;
  env?: T | undefined;
  file?: T | undefined;
}

/** The winning value and the layer it came from. */
export interface Layered<T> {
  value: T;
  from: 'flag' | 'env' | 'file' | 'default';
}

/** Flag over environment over file over `fallback`. */
export function layered<T>(layers: Layers<T>, fallback: T): Layered<T> {
  if (layers.flag !== undefined) return { value: layers.flag, from: 'flag' };
  if (layers.env !== undefined) return { value: layers.env, from: 'env' };
  if (layers.file !== undefined) return { value: layers.file, from: 'file' };
  return { value: fallback, from: 'default' };
}

/** An environment variable as a layer: trimmed; unset and blank both mean "not set". */
export function envLayer(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

/**
 * The delivery config file to read: --config, else DASGUARD_CONFIG, else ./dasguard.yaml when `implicit` (the
 * CLI) and it exists; undefined: no file.
 */
export function deliveryConfigFile(layers: Pick<Layers<string>, 'flag' | 'env'>, opts: { implicit: boolean }): string | undefined {
  const implicit = opts.implicit && existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : SETTINGS.configFile.default;
  return layered(layers, implicit).value;
}

/** The outbox directory: --outbox-dir (or the caller's own, e.g. the Lambda's), else the file's delivery.outboxDir, else the default. */
export function outboxDir(layers: Layers<string>, fallback: string = SETTINGS.outboxDir.default): string {
  return layered(layers, fallback).value;
}
