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


export class Router {
  private readonly routes: { route: RouteConfig; tags?: RegExp[]; rules?: RegExp[] }[];

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
   * The sinks for `alert`, each once. When two routes send to the same sink, the stricter redaction wins.
   */
  targets(alert: DeliveredAlert): Target[] {
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
