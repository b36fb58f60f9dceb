/**
 * A scrape of a Prometheus endpoint, parsed as Prometheus would (parse-prometheus-text-format, a port of the
 * Prometheus client's parser), with lookups by metric name and labels.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export interface Scrape {
  families: ParsedFamily[];
  /** The family `name`, or undefined. */
  family(name: string): ParsedFamily | undefined;
  /** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export async function scrape(url: string): Promise<Scrape & { contentType: string | null }> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  const families = parsePrometheusTextFormat(await res.text());
  const family = (name: string) => families.find((f) => f.name === name);
  return {
    contentType: res.headers.get('content-type'),
    families,
    family,
    value(name, labels = {}) {
      const sample = family(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
      return sample?.value === undefined ? undefined : Number(sample.value);
    },
  };
}
