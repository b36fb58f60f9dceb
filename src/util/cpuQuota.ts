/**
 * The CPUs a Linux control group lets this process use (a container's `--cpus`, a Kubernetes CPU limit), for
 * `--workers auto`. Node 20's os.availableParallelism() counts the CPUs the process may be scheduled on (libuv 1.46:
 * sched_getaffinity), not its cgroup's quota: a container limited to 1 CPU on a 64-core host is told 64, and 64
 * workers of ~18 MB each would share one CPU. libuv reads the quota from 1.49 on (Node 22), as Rust's
 * std::thread::available_parallelism does; this is the same reading for Node 20: cgroup v2's `cpu.max`
 * ("QUOTA PERIOD", or "max PERIOD" for none), else cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (-1: none), the
 * smallest of the process's own group and its ancestors'. The quota in CPUs, possibly fractional (1.5); undefined
 * when there is none or it cannot be read (not Linux, no cgroup file system): the caller keeps
 * availableParallelism()'s count.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsErrorCode } from './fsErrors.js';

/** The control group's CPU quota in CPUs (QUOTA / PERIOD), or undefined (no quota, or none readable). `root`: tests. */
export function cgroupCpuQuota(root = '/'): number | undefined {
  const groups = readText(join(root, 'proc/self/cgroup'));
  if (groups === undefined) return undefined;
  for (const line of groups.split('\n')) {
    // v2: "0::/path"; v1: "N:cpu,cpuacct:/path" (the cpu controller among the names).
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, , controllers = '', path = '/'] = m;
    if (controllers === '') {
      const quota = v2Quota(root, path);
      if (quota !== undefined) return quota;
    } else if (controllers.split(',').includes('cpu')) {
      const quota = v1Quota(root, controllers, path);
      if (quota !== undefined) return quota;
    }
  }
  return undefined;
}

/**
 * cgroup v2: the smallest quota of the group's cpu.max and its ancestors' (a limit on a parent, e.g. a systemd slice,
 * binds its children; the mount's root is the last ancestor, which is also where a container's own group shows when
 * the path as the host names it is not visible inside its namespace).
 */
function v2Quota(root: string, path: string): number | undefined {
  return smallest(ancestors(join(root, 'sys/fs/cgroup'), path).map((dir) => {
    const [quota, period] = (readText(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
    return ratio(quota, period);
  }));
}

/** cgroup v1: the smallest cpu.cfs_quota_us / cpu.cfs_period_us of the group and its ancestors, under the controller's mount (named as listed, or `cpu`). */
function v1Quota(root: string, controllers: string, path: string): number | undefined {
  for (const mount of distinct([controllers, 'cpu,cpuacct', 'cpu'])) {
    const quotas = ancestors(join(root, 'sys/fs/cgroup', mount), path).flatMap((dir) => {
      const quota = readText(join(dir, 'cpu.cfs_quota_us'));
      const period = readText(join(dir, 'cpu.cfs_period_us'));
      return quota === undefined || period === undefined ? [] : [ratio(quota.trim(), period.trim())];
    });
    if (quotas.length > 0) return smallest(quotas); // this mount holds the controller's files
  }
  return undefined;
}

/** `path`'s directory under `mount`, then each parent's, up to the mount itself. */
function ancestors(mount: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  return parts.map((_p, i) => join(mount, ...parts.slice(0, parts.length - i))).concat(mount);
}

function smallest(quotas: (number | undefined)[]): number | undefined {
  const known = quotas.filter((q): q is number => q !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

/** QUOTA / PERIOD as CPUs; undefined for "max", -1 or anything that is not two positive integers. */
function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // Not there (not Linux, no cgroup mounted, another layout) or not readable: no quota known from this file.
    if (fsErrorCode(err) !== undefined) return undefined;
    throw err;
  }
}

function distinct(items: string[]): string[] {
  return [...new Set(items)];
}
