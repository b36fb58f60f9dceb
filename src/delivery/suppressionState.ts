/**
 * The suppression windows a live consumer keeps across restarts: `<outbox>/suppression.json`, written by
 * DeliveryHandoff.persist (atomically, before each checkpoint write) and read back here at open, or by
 * `dasguard outbox status`.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { fsErrorText } from '../util/fsErrors.js';
import { describeJsonError } from '../util/jsonError.js';
import type { SuppressionState } from './Suppressor.js';

/** The suppression windows of a handoff opened with `persistSuppression`, in its outbox directory. */
export const SUPPRESSION_STATE_FILE = 'suppression.json';

/** The saved suppression windows; undefined when there are none. ConfigError naming the file when it is not one. */
export async function readSuppressionState(path: string): Promise<SuppressionState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the suppression state ${path}: ${fsErrorText(err)}`, { cause: err });
  }
  const bad = (why: string) =>
    new ConfigError(`the suppression state ${path} is corrupt (${why}); it was not reset. Fix or delete it (deleting it loses the counts of open suppression windows)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON: ${describeJsonError(err)}`); // V8's message would quote the file: alerts
  }
  const s = v as Partial<SuppressionState> | null;
  if (!s || s.version !== 1 || !Number.isInteger(s.generation) || !Array.isArray(s.windows) || !Array.isArray(s.taken)) throw bad('not a suppression state');
  for (const w of s.windows) {
    const ok =
      typeof w === 'object' && w !== null && typeof w.key === 'string' && Array.isArray(w.keys) && Number.isFinite(w.start) &&
      Number.isFinite(w.windowMs) && Number.isInteger(w.count) && typeof w.first === 'object' && w.first !== null && typeof w.first.id === 'string';
    if (!ok) throw bad('a window is not one');
  }
  if (!s.taken.every((t) => Array.isArray(t) && typeof t[0] === 'string' && Number.isInteger(t[1]))) throw bad('"taken" is not a list of [id, generation]');
  if (s.opened !== undefined && !(Array.isArray(s.opened) && s.opened.every((o) => Array.isArray(o) && typeof o[0] === 'string' && Array.isArray(o[1])))) throw bad('"opened" is not a list of [id, targets]');
  return s as SuppressionState;
}
