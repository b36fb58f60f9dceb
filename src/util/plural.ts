/** `1 alert`, `2 alerts`: a count with its noun, for every summary people read. `plural` is the noun's plural when not `noun + s`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
