/**
 * Hot reload of `run`'s rules (SIGHUP; with --watch-rules, a change to a rule file or dasguard.yaml): the rule files
 * are loaded and checked as at startup (loadRules: every problem, file:line and rule id), and so are the dasguard.yaml
 * `rules:` patterns against the new rule ids. Any error: the reload is refused, every problem logged, the old rules
 * keep running. Otherwise the new set is swapped in between records (LiveRuleSet) and the correlation state follows
 * it (Correlator.reload: unchanged correlations keep their state, changed or removed ones are dropped, and logged).
 *
 * dasguard.yaml itself is not reloaded: its sinks, routes, suppression and outbox are those `run` started with
 * (the outbox and suppression windows are open files, the sinks hold clients). A reload that finds one of its keys
 * changed says which, and that it needs a restart; nothing is ignored silently. See README "Hot reload".
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { ConsumerLogEntry } from '../consumer/types.js';
import { loadDeliveryConfig, type DeliveryConfig } from '../delivery/config.js';
import { errorMessage } from '../errors.js';
import type { Correlator } from '../pipeline/Correlator.js';
import { formatProblem, loadRules, type Problem, type RuleSet } from '../rules/index.js';
import { formatFileProblem, isError } from '../config/problems.js';
import type { LiveRuleSet } from '../rules/LiveRuleSet.js';

/** The keys of dasguard.yaml a reload compares (each needs a restart to change). */
const RESTART_KEYS = ['sinks', 'routes', 'suppression', 'delivery'] as const;

export interface RuleReloaderOptions {
  /** The rule paths, as loaded at startup. */
  paths: readonly string[];
  live: LiveRuleSet;
  /** The correlation state (opened `reloadable`). */
  correlator?: Correlator | undefined;
  /** dasguard.yaml (or --config), when `run` delivers through one. */
  configFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  log: (e: ConsumerLogEntry) => void;
}

export class RuleReloader {
  readonly #o: RuleReloaderOptions;
  /** The config as `run` started with it, per key (JSON), to say which key changed. */
  #configKeys: Map<string, string> | undefined;
  /** The reload running, if any; a request meanwhile runs once after it (`#again`). */
  #running: Promise<void> | undefined;
  #again: string | undefined;

  constructor(o: RuleReloaderOptions) {
    this.#o = o;
  }

  /** What the config holds now, remembered as the running one (call once at startup, after `run` read it). */
  async start(): Promise<void> {
    if (this.#o.configFile === undefined) return;
    const { config } = await loadDeliveryConfig(this.#o.configFile, this.#o.env, {});
    if (config !== undefined) this.#configKeys = keysOf(config);
  }

  /** Reloads (`reason`: `SIGHUP`, `file changed: …`); resolves once done. Reloads never overlap. */
  request(reason: string): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = reason;
      return this.#running;
    }
    const run = async (): Promise<void> => {
      try {
        let next: string | undefined = reason;
        while (next !== undefined) {
          this.#again = undefined;
          await this.#reload(next).catch((err: unknown) => this.#o.log({ level: 'error', msg: `reload failed: ${errorMessage(err)}; still running rules ${this.#o.live.version ?? '-'}` }));
          next = this.#again;
        }
      } finally {
        this.#running = undefined;
      }
    };
    this.#running = run();
    return this.#running;
  }

  async #reload(reason: string): Promise<void> {
    const { live, log } = this.#o;
    const old = live.version ?? '-';
    log({ level: 'info', msg: 'reloading rules', reason, files: this.#o.paths });
    const { ruleSet, problems } = await loadRules([...this.#o.paths]);
    const configProblems = ruleSet !== undefined ? await this.#checkConfig(ruleSet) : { problems: [], changed: [] };
    const errors = [...problems, ...configProblems.problems].filter(isError).length;
    for (const p of problems) log(problemEntry(p, formatProblem(p)));
    for (const p of configProblems.problems) log(problemEntry(p, formatFileProblem(p)));
    if (ruleSet === undefined || errors > 0) {
      log({ level: 'error', msg: `reload refused, still running rules ${old}`, problems: errors, rulesVersion: old });
      return;
    }
    if (ruleSet.version !== undefined && ruleSet.version === live.version) {
      // the same rule files, byte for byte: nothing to swap (a SIGHUP to check, an editor saving without a change)
      log({ level: 'info', msg: `rules unchanged (${old}): nothing reloaded`, rules: ruleSet.rules.length, rulesVersion: old });
    } else {
      // The correlations first, then the rules, in one tick: every record evaluated with the new rules comes after.
      const dropped = this.#o.correlator?.reload(ruleSet);
      live.swap(ruleSet);
      const { restarted, removed } = (await dropped) ?? { restarted: [], removed: [] };
      // What the reload dropped first, 'rules reloaded' last: whoever sees that line has seen all of its reload.
      if (restarted.length > 0) log({ level: 'warn', msg: `${restarted.length} correlation rule(s) changed, their state dropped (they start empty): ${restarted.join(', ')}`, restarted });
      if (removed.length > 0) log({ level: 'info', msg: `${removed.length} correlation rule(s) removed, their state dropped: ${removed.join(', ')}`, removed });
      log({ level: 'info', msg: 'rules reloaded', rules: ruleSet.rules.length, oldVersion: old, newVersion: ruleSet.version ?? '-' });
    }
    for (const key of configProblems.changed) {
      log({ level: 'warn', msg: `${this.#o.configFile}: '${key}' changed: not reloaded, it takes effect at the next restart of run`, key });
    }
  }

  /** The config's `rules:` patterns against the new rule ids (as at startup), and which of its keys changed. */
  async #checkConfig(ruleSet: RuleSet): Promise<{ problems: Problem[]; changed: string[] }> {
    const file = this.#o.configFile;
    if (file === undefined) return { problems: [], changed: [] };
    const { config, problems } = await loadDeliveryConfig(file, this.#o.env, { loadedRuleIds: ruleSet.rules.map((r) => r.id) });
    if (config === undefined || this.#configKeys === undefined) return { problems, changed: [] };
    const now = keysOf(config);
    return { problems, changed: RESTART_KEYS.filter((k) => now.get(k) !== this.#configKeys!.get(k)) };
  }
}

function problemEntry(p: Problem, text: string): ConsumerLogEntry {
  return { level: isError(p) ? 'error' : 'warn', msg: text, file: p.file, line: p.line, ...(p.ruleId !== undefined ? { ruleId: p.ruleId } : {}) };
}

function keysOf(c: DeliveryConfig): Map<string, string> {
  return new Map(RESTART_KEYS.map((k) => [k, JSON.stringify(c[k])]));
}

/**
 * --watch-rules: calls `onChange` (debounced by `debounceMs`) when a file under `paths` changes. Each directory is
 * watched recursively; a file is watched through its directory (editors save by writing a new file and renaming it
 * over the old one: a watch on the file itself would follow the old inode and go quiet). A watcher that fails (its
 * directory removed) is set up again on the next change or after `debounceMs`.
 */
export async function watchPaths(
  paths: readonly string[],
  onChange: (file: string) => void,
  log: (e: ConsumerLogEntry) => void,
  debounceMs = 300,
): Promise<{ close(): void }> {
  // A directory is also watched from its parent: replaced as a whole (a deploy renaming a new one into place), its
  // watcher (on the old directory) is set up again on the new one.
  const targets: { dir: string; only?: string; recursive: boolean; replaces?: number }[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    const isDir = await stat(abs).then((s) => s.isDirectory(), () => false);
    if (isDir) {
      targets.push({ dir: abs, recursive: true });
      targets.push({ dir: dirname(abs), only: basename(abs), recursive: false, replaces: targets.length - 1 });
    } else targets.push({ dir: dirname(abs), only: basename(abs), recursive: false });
  }
  const watchers = new Map<number, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let changed = '';
  let closed = false;
  const fire = (file: string): void => {
    if (closed) return;
    changed = file;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      rearm();
      onChange(changed);
    }, debounceMs);
  };
  const arm = (i: number): void => {
    const t = targets[i]!;
    try {
      const w = watch(t.dir, { recursive: t.recursive }, (_event, name) => {
        const file = name === null ? t.dir : String(name);
        if (t.only !== undefined && file !== t.only) return;
        if (t.only === undefined && !/\.ya?ml$/i.test(file)) return;
        if (t.replaces !== undefined) {
          watchers.get(t.replaces)?.close();
          watchers.delete(t.replaces);
        }
        fire(resolve(t.dir, file));
      });
      w.on('error', (err) => {
        watchers.delete(i);
        w.close();
        log({ level: 'warn', msg: `--watch-rules: ${t.dir}: ${errorMessage(err)}; watching again after the next change` });
        fire(t.dir);
      });
      watchers.set(i, w);
    } catch (err) {
      log({ level: 'warn', msg: `--watch-rules: cannot watch ${t.dir}: ${errorMessage(err)}` });
    }
  };
  const rearm = (): void => {
    for (let i = 0; i < targets.length; i++) if (!watchers.has(i)) arm(i);
  };
  rearm();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/**
 * `run`'s hot reload, set up: a RuleReloader (run sends it SIGHUP) and, with `watch` (--watch-rules), the rule paths
 * and the config file watched. `close` stops the watchers.
 */
export async function openHotReload(o: RuleReloaderOptions & { watch: boolean }): Promise<{ reloader: RuleReloader; close(): void }> {
  const reloader = new RuleReloader(o);
  await reloader.start();
  const files = [...o.paths, ...(o.configFile !== undefined ? [o.configFile] : [])];
  const watched = o.watch ? await watchPaths(files, (file) => void reloader.request(`file changed: ${file}`), o.log) : undefined;
  if (watched) o.log({ level: 'info', msg: 'watching the rule files for changes (--watch-rules)', files });
  return { reloader, close: () => watched?.close() };
}
