/**
 * Did-you-mean for every checker (rule files, dasguard.yaml, loss-window patterns, the Lambda environment): the
 * closest known name to a misspelt one, by edit distance.
 */

/** The closest candidates to `name` (edit distance, case-insensitive), best first; at most `max`. */
function suggest(name: string, candidates: Iterable<string>, max = 1): string[] {
  const lower = name.toLowerCase();
  const scored: { c: string; d: number }[] = [];
  for (const c of candidates) {
    const cl = c.toLowerCase();
    const d = cl === lower ? 0 : editDistance(lower, cl);
    const limit = Math.max(2, Math.floor(Math.max(name.length, c.length) / 3));
    if (d <= limit) scored.push({ c, d });
    // a truncated name (`dbUser` for `dbUserName`) is a likely slip too, ranked after close spellings
    else if (lower.length >= 4 && cl.startsWith(lower)) scored.push({ c, d: limit + (cl.length - lower.length) });
  }
  scored.sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.slice(0, max).map((s) => s.c);
}

/** ` (did you mean 'x'?)` or ''. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const [best] = suggest(name, candidates);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  const cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    for (let j = 0; j <= b.length; j++) prev[j] = cur[j] as number;
  }
  return prev[b.length] as number;
}
