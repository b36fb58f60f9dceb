/**
 * `--workers auto` counts the CPUs the process may use: a container's CPU limit (cgroup v2 cpu.max, cgroup v1
 * cpu.cfs_quota_us / cpu.cfs_period_us) caps the count Node 20's availableParallelism() gives (the host's CPUs).
 * Each case is a small /proc and /sys/fs/cgroup tree in a temporary directory, laid out as Linux lays them out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupCpuQuota } from '../../src/util/cpuQuota.js';
import { autoWorkers, MAX_AUTO_WORKERS } from '../../src/commands/common.js';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'dasguard-cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function quotaOf(files: Record<string, string>): number | undefined {
  const root = tree(files);
  try {
    return cgroupCpuQuota(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('cgroup v2: the quota of cpu.max, in the process group or at the root of the mount (a container)', () => {
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '150000 100000\n' }), 1.5);
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/system.slice/dasguard.service\n', 'sys/fs/cgroup/system.slice/dasguard.service/cpu.max': '200000 100000\n' }), 2);
  // The group's path as the host names it, not visible inside the container's namespace: the mount's root holds it.
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/kubepods/pod1/abc\n', 'sys/fs/cgroup/cpu.max': '100000 100000\n' }), 1);
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n' }), undefined, 'no limit');
  // A limit on a parent (a systemd slice) binds the group under it, even when the group's own says none.
  const slice = { 'proc/self/cgroup': '0::/batch.slice/dasguard.service\n', 'sys/fs/cgroup/batch.slice/cpu.max': '100000 100000\n' };
  assert.equal(quotaOf({ ...slice, 'sys/fs/cgroup/batch.slice/dasguard.service/cpu.max': 'max 100000\n' }), 1);
  assert.equal(quotaOf({ ...slice, 'sys/fs/cgroup/batch.slice/dasguard.service/cpu.max': '50000 100000\n' }), 0.5, 'the smallest wins');
});

test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us under the cpu controller (-1: no limit)', () => {
  const v1 = '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n';
  assert.equal(quotaOf({ 'proc/self/cgroup': v1, 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' }), 0.5);
  assert.equal(quotaOf({ 'proc/self/cgroup': '1:cpu:/\n', 'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', 'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }), undefined);
  // A hybrid host (this machine's layout): v1 controllers and an empty v2 hierarchy; the v1 cpu controller has the say.
  const hybrid = '2:cpuacct:/\n1:cpu:/\n0::/\n';
  assert.equal(quotaOf({ 'proc/self/cgroup': hybrid, 'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000\n', 'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }), 3);
  const nested = { 'proc/self/cgroup': '3:cpu:/jobs/one\n', 'sys/fs/cgroup/cpu/jobs/one/cpu.cfs_quota_us': '-1\n', 'sys/fs/cgroup/cpu/jobs/one/cpu.cfs_period_us': '100000\n' };
  assert.equal(quotaOf({ ...nested, 'sys/fs/cgroup/cpu/jobs/cpu.cfs_quota_us': '200000\n', 'sys/fs/cgroup/cpu/jobs/cpu.cfs_period_us': '100000\n' }), 2, 'v1: a parent limit too');
});

test('no cgroup file system, or files that say nothing: no quota (availableParallelism stands)', () => {
  assert.equal(quotaOf({}), undefined, 'not Linux: no /proc/self/cgroup');
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/\n' }), undefined, 'no cpu.max (the cpu controller not enabled)');
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'garbage\n' }), undefined);
  assert.equal(quotaOf({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '0 100000\n' }), undefined);
});

test('auto: one worker per usable core within the quota, none on one core, at most MAX_AUTO_WORKERS', () => {
  assert.equal(autoWorkers(2, undefined), 2);
  assert.equal(autoWorkers(1, undefined), 0, 'one core: the main thread alone');
  assert.equal(autoWorkers(64, 1), 0, 'a 1-CPU container on a 64-core host: no worker, not 64');
  assert.equal(autoWorkers(64, 1.5), 0, 'one and a half CPUs: one usable core');
  assert.equal(autoWorkers(64, 2.5), 2);
  assert.equal(autoWorkers(2, 8), 2, 'a quota above the CPUs the process may run on: the CPUs');
  assert.equal(autoWorkers(96, undefined), MAX_AUTO_WORKERS);
});
