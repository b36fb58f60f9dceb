/**
 * `npm run corpus [-- postgresql|mysql]`: rebuilds the labelled detection corpora in test/corpus/<engine>/ from real
 * servers on 127.0.0.1 in a temp dir (scripts/corpus/<engine>.ts; test/corpus/README.md says how and what). With no
 * argument, every engine. It needs the Debian servers .ci/run installs (postgresql-15, postgresql-15-pgaudit,
 * mariadb-server).
 */
import { buildMysqlCorpus } from './corpus/mysql.js';
import { buildPostgresCorpus } from './corpus/postgresql.js';

const BUILDERS: Record<string, () => Promise<void>> = { postgresql: buildPostgresCorpus, mysql: buildMysqlCorpus };

async function main(args: string[]): Promise<void> {
  const unknown = args.filter((a) => !(a in BUILDERS));
  if (unknown.length > 0) throw new Error(`unknown engine ${unknown.join(', ')} (one of: ${Object.keys(BUILDERS).join(', ')})`);
  for (const engine of args.length > 0 ? args : Object.keys(BUILDERS)) await BUILDERS[engine]!();
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`corpus: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
