/** Which sinks an alert goes to: every matching route; the default route(s) when none matched. */
import { stricter, type RedactionMode } from '../redaction/index.js';
import { severityRank } from '../types.js';
import { globToRegExp } from '../util/glob.js';
import type { RouteConfig } from './config.js';
import type { DeliveredAlert } from './types.js';

export interface Target {
  sink: string;
  route: string;
  redaction: RedactionMode;
}

/** Alerts whose targets are kept for the alert that may resolve them: enough for every open condition of a run. */
const REMEMBERED = 10_000;

export class Router {
  private readonly routes: { route: RouteConfig; tags?: RegExp[]; rules?: RegExp[] }[];
  /**
   * Where each alert that opened a condition (`event.state: 'open'`) went, by id, so that the alert resolving it
   * (`resolves`) goes there too; the latest REMEMBERED. Kept across restarts where the suppression windows are
   * (`run`: DeliveryHandoff saves `remembered()` in <outbox>/suppression.json and gives it back to `remember`);
   * elsewhere in this process only.
   */
  private readonly opened = new Map<string, Target[]>();
  /** An alert's targets were remembered since the last `saved()`. */
  dirty = false;

  constructor(routes: readonly RouteConfig[]) {
    this.routes = routes.map((route) => {
      const r: { route: RouteConfig; tags?: RegExp[]; rules?: RegExp[] } = { route };
      if (route.tags) r.tags = route.tags.map(globToRegExp);
      if (route.rules) r.rules = route.rules.map(globToRegExp);
      return r;
    });
  }

  route(name: string): RouteConfig | undefined {
    return this.routes.find((r) => r.route.name === name)?.route;
  }

  /**
   * The sinks for `alert`, each once. When two routes send to the same sink, the stricter redaction wins. An alert
   * that resolves another (`resolves`) also goes to every sink that one went to, whatever its own severity: whoever
   * was told a loss window opened is told it closed.
   */
  targets(alert: DeliveredAlert): Target[] {
    const own = this.ownTargets(alert);
    const bySink = new Map(own.map((t) => [t.sink, t]));
    for (const t of alert.resolves !== undefined ? (this.opened.get(alert.resolves) ?? []) : []) {
      const prev = bySink.get(t.sink);
      if (!prev || stricter(t.redaction, prev.redaction) !== prev.redaction) bySink.set(t.sink, t);
    }
    const targets = [...bySink.values()];
    if (alert.kind === 'health' && alert.event.state === 'open' && !this.opened.has(alert.id)) {
      this.opened.set(alert.id, targets);
      if (this.opened.size > REMEMBERED) this.opened.delete(this.opened.keys().next().value!);
      this.dirty = true;
    }
    return targets;
  }

  /** The targets of alerts that opened a condition, oldest first: for the state file. */
  remembered(): [string, Target[]][] {
    return [...this.opened];
  }

  /** Takes back `remembered()` entries (at start). */
  remember(entries: readonly [string, Target[]][]): void {
    for (const [id, targets] of entries) this.opened.set(id, targets);
  }

  saved(): void {
    this.dirty = false;
  }

  private ownTargets(alert: DeliveredAlert): Target[] {
    const matched = this.routes.filter((r) => !r.route.default && this.matches(r, alert));
    // Command-line shortcut routes deliver in addition: they do not keep the default routes from applying.
    const counted = matched.some((r) => !r.route.extra);
    const chosen = counted ? matched : [...matched, ...this.routes.filter((r) => r.route.default)];
    const bySink = new Map<string, Target>();
    for (const { route } of chosen) {
      const redaction = route.redaction ?? 'literals';
      for (const sink of route.sinks) {
        const prev = bySink.get(sink);
        if (!prev || stricter(redaction, prev.redaction) !== prev.redaction) bySink.set(sink, { sink, route: route.name, redaction });
      }
    }
    return [...bySink.values()];
  }

  private matches(r: { route: RouteConfig; tags?: RegExp[]; rules?: RegExp[] }, alert: DeliveredAlert): boolean {
    if (r.route.severity !== undefined && severityRank(alert.severity) < severityRank(r.route.severity)) return false;
    if (r.tags && !alert.tags.some((t) => r.tags!.some((g) => g.test(t)))) return false;
    if (r.rules && !r.rules.some((g) => g.test(alert.ruleId))) return false;
    return true;
  }
}
