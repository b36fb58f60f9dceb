/**
 * Which shard leases a worker takes, as the Kinesis Client Library's lease taker decides it: a pure function of the
 * leases it sees (their owners, which ones expired) and its own id, so every worker computes the same balance.
 *
 * - Only the leases that can be read now count: a finished shard's lease, and a child's whose parents are not read
 *   to their end, are left out by the caller.
 * - Workers are the owners of leases that did not expire, plus this one. Each worker's target is
 *   ceil(leases / workers) (1 when there are at least as many workers as leases).
 * - A worker under its target takes available leases (unowned or expired) up to it; when none is available it
 *   steals from the most loaded worker, at most ONE lease at a time: when that worker holds more than the target, or
 *   holds the target while this one needs more than one.
 */

export interface LeaseView {
  shardId: string;
  /** null: nobody holds it (never taken, or released). */
  owner: string | null;
  /** Its counter has not moved for a lease duration of this worker's time. */
  expired: boolean;
}

export interface TakeDecision {
  /** Leases to take: available ones (unowned or expired). */
  take: string[];
  /** A lease to steal from the most loaded worker, when nothing is available. */
  steal: { shardId: string; from: string } | undefined;
  /** Leases per worker this worker aims at. */
  target: number;
  /** Workers counted (those holding a live lease, and this one). */
  workers: number;
}

/**
 * What `me` should take of `leases`. `order` arranges the candidates before the first ones are picked (default: a
 * random shuffle, so that workers starting together do not all go for the same lease).
 */
export function leasesToTake(
  leases: readonly LeaseView[],
  me: string,
  order: <T>(items: T[]) => T[] = shuffle,
): TakeDecision {
  const available = leases.filter((l) => l.owner !== me && (l.owner === null || l.expired));
  const counts = new Map<string, number>([[me, 0]]);
  for (const l of leases) {
    if (l.owner === null || (l.expired && l.owner !== me)) continue;
    counts.set(l.owner, (counts.get(l.owner) ?? 0) + 1);
  }
  const workers = counts.size;
  const none: TakeDecision = { take: [], steal: undefined, target: 0, workers };
  if (leases.length === 0) return none;
  const target = workers >= leases.length ? 1 : Math.ceil(leases.length / workers);
  const needed = target - counts.get(me)!;
  if (needed <= 0) return { ...none, target };
  if (available.length > 0) {
    return { take: order(available.map((l) => l.shardId)).slice(0, needed), steal: undefined, target, workers };
  }
  // The most loaded worker (ties: the smallest id, so that every worker names the same one).
  let most: [string, number] | undefined;
  for (const [w, n] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (w !== me && (most === undefined || n > most[1])) most = [w, n];
  }
  if (most === undefined) return { ...none, target };
  const [victim, load] = most;
  const steal = load > target || (load === target && needed > 1);
  if (!steal) return { ...none, target };
  const candidates = order(leases.filter((l) => l.owner === victim).map((l) => l.shardId));
  return { take: [], steal: { shardId: candidates[0]!, from: victim }, target, workers };
}

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
