/**
 * Detection figures of the bundled pack on the committed labelled corpora (test/corpus/postgresql/ and mysql/, built
 * from a real PostgreSQL 15 + pgaudit and a real MariaDB 10.11 + server_audit by `npm run corpus`; no server needed
 * here): per category the incidents detected, the alerts per detected incident, and false alerts on benign load, as
 * `npm run detection` prints them.
 * The figures asserted are TODAY's, so a rule change that loses (or gains) a detection or adds a false alert is seen.
 * The targets (issue 11): recall 100% per category; <= 1 false alert per 100,000 benign events; <= 2 alerts per
 * incident for brute force, spraying and SQL-injection bursts. Where today's figure misses a target the comment says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatDetection, measure } from '../../scripts/detection.js';

test('the pack on the PostgreSQL corpus: recall per category and false alerts as measured', async () => {
  const d = await measure(join('test', 'corpus', 'postgresql'));
  const got = Object.fromEntries(d.categories.map((c) => [c.category, [c.detected, c.incidents]]));
  assert.deepEqual(got, {
    // (the corpus puts 11 minutes of log time between incidents, so one incident never falls in the quiet period of
    // the one before from the same user and host: scripts/corpus.ts)
    'brute-force': [3, 3],
    'password-spraying': [2, 2],
    'failed-logins-then-success': [2, 2],
    'privilege-escalation': [7, 7],
    'ddl-by-privileged-user': [3, 3],
    destructive: [4, 4],
    // pgaudit logs a SET when it has run, under the new setting, so it never logs `SET pgaudit.log = 'none'`; the
    // server's own log_statement line does, and the importer makes it an event (docs/import.md)
    'audit-tampering': [5, 5],
    'code-execution-file-access': [6, 6],
    'untrusted-extension': [7, 7],
    'security-definer': [2, 2],
    'credential-catalog-read': [3, 3],
    // (pgaudit.log_rows gives the import row counts, so bulk-read sees a big SELECT or COPY TO STDOUT)
    'bulk-read': [5, 5],
    'export-to-s3': [2, 2],
    'sql-injection-probe': [4, 4],
    'privileged-off-hours': [1, 1],
    // a week after the superuser's first login (its learning period), from ::1 and from the server's Unix socket
    'new-host-privileged-login': [2, 2],
  }, formatDetection('postgresql', d));
  const perIncident = Object.fromEntries(d.categories.map((c) => [c.category, c.alertsPerDetected]));
  for (const c of ['brute-force', 'password-spraying', 'sql-injection-probe', 'failed-logins-then-success']) assert.ok(perIncident[c]! <= 2, `${c}: ${perIncident[c]} alerts per incident`);
  // 1.5: spraying-1 also holds the first failures of a failed-logins-then-success sequence (a user's later success).
  assert.equal(perIncident['password-spraying'], 1.5);
  // 1 on 113,562 benign events is 0.9 per 100k (target <= 1): drop-or-truncate on the TRUNCATE pgbench_history
  // that a pgbench run does before it starts, as the app owner (a site whose worker does that lists the table in
  // temporary_tables). (pgbench -i, the app owner's schema set-up, is provisioning; the DBA's reads of
  // pg_stat_activity and pg_roles no longer count as credential reads; sql-error leaves out the app's unique
  // violations, pack 2.0.0.)
  assert.deepEqual(d.falseAlerts, [{ ruleId: 'drop-or-truncate', count: 1 }]);
  assert.equal(d.benignEvents, 113562);
});

test('the pack on the MySQL corpus: recall per category and false alerts as measured', async () => {
  // test/corpus/mysql/: a real MariaDB 10.11 + server_audit and its slow log, imported with `dasguard import
  // mariadb-audit --slow-log`
  const d = await measure(join('test', 'corpus', 'mysql'));
  const got = Object.fromEntries(d.categories.map((c) => [c.category, [c.detected, c.incidents]]));
  assert.deepEqual(got, {
    'brute-force': [3, 3],
    'password-spraying': [2, 2],
    'failed-logins-then-success': [2, 2],
    'privilege-escalation': [4, 4],
    'ddl-by-privileged-user': [3, 3],
    destructive: [4, 4],
    'audit-tampering': [3, 3],
    'code-execution-file-access': [3, 3],
    'credential-catalog-read': [3, 3],
    // server_audit has no row counts: the import takes them from the slow log (--slow-log), so heavy-read sees the
    // reporter's `SELECT * FROM order_history` of 20,000 rows (bulk-read-1). The mariadb-dump is seen by its first
    // statement (dump-tool-login), the SELECT * FROM cards by sensitive-table-read.
    'bulk-read': [3, 3],
    'sql-injection-probe': [4, 4],
  }, formatDetection('mysql', d));
  const perIncident = Object.fromEntries(d.categories.map((c) => [c.category, c.alertsPerDetected]));
  for (const c of ['brute-force', 'password-spraying', 'sql-injection-probe', 'failed-logins-then-success']) assert.ok(perIncident[c]! <= 2, `${c}: ${perIncident[c]} alerts per incident`);
  // 1.5: spraying-1 is 10 failed logins from 127.0.0.1 within the minute, which is brute-force's threshold too.
  assert.equal(perIncident['password-spraying'], 1.5);
  assert.deepEqual(d.falseAlerts, []);
  assert.equal(d.benignEvents, 8346);
});
