/** `1 alert`, `2 alerts`: a count with its noun, for every summary people read. `plural` is the noun's plural when not `noun + s`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** The word that agrees with a count of `n`: `agree(1, 'was', 'were')` is `was`, `agree(2, 'was', 'were')` is `were`. */
export function agree(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
