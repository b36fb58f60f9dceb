/**
 * SLOW tier (packs and installs the package; ~10-20 s): the package as npm would publish it. `npm pack` on the
 * built repo, then the tarball is installed in a temp app OUTSIDE the repo and imported by name.
 *
 * Installing: one test runs the real `npm install <tarball>` in an empty directory (`--prefer-offline`: the npm
 * cache, else the registry) and `npx dasguard --help`. The others share an app where the tarball is extracted
 * into `<app>/node_modules/dasguard`, exactly as npm lays it out, and each dependency it DECLARES is linked from
 * the repo's node_modules: an import of anything undeclared fails, as it would for a user.
 *
 * Checks: what the tarball holds (dist, bin, rules, schema, docs, README, LICENSE; no src/, test/, samples/ or
 * secrets; no build output of files no longer in src/; its size), then test/support/packageConsumer.mjs run with
 * plain node in the app (`import('dasguard')`, `import('dasguard/lambda')`, the bundled rules, processRecord and
 * the Lambda handler against the golden alerts), `dasguard --help` by name in an empty directory through the bin link
 * npm makes, `bin/dasguard.js validate` from the package, and a TypeScript
 * consumer type-checked against the shipped declarations.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Far above today's (~0.4 MB packed, ~1.6 MB unpacked): trips when something big gets in by mistake. */
const MAX_PACKED_BYTES = 1024 * 1024;
const MAX_UNPACKED_BYTES = 4 * 1024 * 1024;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** A child's environment without the test runner's loader (the app runs as a user's would, without tsx). */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return env;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

describe('the packed package (npm pack, installed in a temp app, imported by name)', { timeout: 180_000 }, () => {
  let work: string;
  let app: string;
  let installed: string;
  let pack: PackResult;
  let paths: Set<string>;
  let manifest: { version: string; main: string; types: string; bin: Record<string, string>; exports: Record<string, unknown>; dependencies: Record<string, string> };

  before(async () => {
    for (const built of ['dist/index.js', 'dist/index.d.ts', 'dist/lambda.js', 'dist/cli.js']) {
      assert.ok(existsSync(join(ROOT, built)), `${built} is missing: run \`npm run build\` first (npm test does)`);
    }
    work = await mkdtemp(join(tmpdir(), 'dasguard-pack-'));
    // --ignore-scripts: prepack would delete dist/ (and prepare rebuild it) under the other tests' feet; the
    // repo is already built.
    const { stdout } = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env: plainEnv(), maxBuffer: 16 * 1024 * 1024 });
    const results = JSON.parse(stdout) as PackResult[];
    assert.equal(results.length, 1);
    pack = results[0]!;
    paths = new Set(pack.files.map((f) => f.path));

    app = join(work, 'app');
    installed = join(app, 'node_modules', 'dasguard');
    await mkdir(installed, { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { dasguard: `file:../${pack.filename}` } }));
    await run('tar', ['-xzf', join(work, pack.filename), '-C', installed, '--strip-components=1']);
    manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as typeof manifest;
    // The dependencies the tarball declares (and @types/node for the TypeScript consumer), linked from the repo.
    for (const name of [...Object.keys(manifest.dependencies), '@types/node']) {
      const from = join(ROOT, 'node_modules', name);
      assert.ok(existsSync(from), `dependency ${name} is not installed in the repo: run \`npm ci\``);
      const to = join(app, 'node_modules', name);
      await mkdir(dirname(to), { recursive: true });
      await symlink(await realpath(from), to, 'dir');
    }
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships dist, bin, rules, schema, docs, README and LICENSE, and every path package.json names', async () => {
    const expected = ['package.json', 'README.md', 'LICENSE', 'bin/dasguard.js', 'dist/index.js', 'dist/index.d.ts', 'dist/lambda.js', 'dist/lambda.d.ts', 'dist/cli.js'];
    for (const dir of ['rules', 'schema', 'docs']) {
      // every file, those in subdirectories too (docs/img)
      for (const f of await readdir(join(ROOT, dir), { recursive: true })) {
        if (dir === 'schema' && !f.endsWith('.json')) continue;
        if ((await stat(join(ROOT, dir, f))).isDirectory()) continue;
        expected.push(`${dir}/${f}`);
      }
    }
    // Every export target (the values, whatever the nesting of conditions), main, types and bin.
    const targets = (v: unknown): string[] => (typeof v === 'string' ? [v] : Object.values(v as Record<string, unknown>).flatMap(targets));
    const named = [manifest.main, manifest.types, ...Object.values(manifest.bin), ...targets(manifest.exports)];
    for (const p of [...expected, ...named.map((p) => p.replace(/^\.\//, ''))]) assert.ok(paths.has(p), `the tarball lacks ${p}`);
  });

  it('ships no sources, tests, samples, local state or secrets', async () => {
    const forbidden = /^(src|test|bench|scripts|samples|node_modules|coverage|\.dasguard|\.git)\/|(^|\/)(\.env[^/]*|\.npmrc|[^/]*\.(pem|key|tgz|log)|[^/]*key[^/]*\.json)$/i;
    assert.deepEqual([...paths].filter((p) => forbidden.test(p)), []);
    assert.deepEqual([...paths].filter((p) => p.startsWith('schema/') && !p.endsWith('.json')), [], 'schema/generate.ts is a dev script');
    // source maps point at src/, which is not shipped: a map without its source only misleads a stack trace
    assert.deepEqual([...paths].filter((p) => p.endsWith('.map')), [], 'no source maps');
    // Contents too: no AWS access key, no private key, not the demo master key (it encrypts the samples only).
    const demoKey = (JSON.parse(await readFile(join(ROOT, 'samples/demo-master-key.json'), 'utf8')) as { key: string }).key;
    const leaks: string[] = [];
    for (const file of await filesUnder(installed)) {
      const text = await readFile(file, 'latin1');
      if (/\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) || text.includes(demoKey)) leaks.push(relative(installed, file));
    }
    assert.deepEqual(leaks, []);
  });

  it('holds no build output of a file no longer in src/ (a clean build: prepack empties dist/)', () => {
    const stale = [...paths]
      .filter((p) => p.startsWith('dist/') && p.endsWith('.js'))
      .filter((p) => !existsSync(join(ROOT, 'src', p.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    assert.deepEqual(stale, [], 'dist/ holds stale output; `npm run clean && npm run build`');
  });

  it(`stays small: at most ${MAX_PACKED_BYTES} bytes packed, ${MAX_UNPACKED_BYTES} unpacked`, (t) => {
    t.diagnostic(`${pack.filename}: ${pack.size} bytes packed, ${pack.unpackedSize} unpacked, ${pack.files.length} files`);
    assert.ok(pack.size <= MAX_PACKED_BYTES, `${pack.size} bytes packed`);
    assert.ok(pack.unpackedSize <= MAX_UNPACKED_BYTES, `${pack.unpackedSize} bytes unpacked`);
  });

  it("import('dasguard') and import('dasguard/lambda') work from the installed tarball", async () => {
    await copyFile(join(ROOT, 'test/support/packageConsumer.mjs'), join(app, 'consumer.mjs'));
    const { stdout } = await run(process.execPath, ['consumer.mjs', ROOT], { cwd: app, env: plainEnv(), maxBuffer: 16 * 1024 * 1024 });
    const r = JSON.parse(stdout) as {
      resolved: { root: string; lambda: string };
      missing: string[];
      sameLambdaModule: boolean;
      handlerIsFunction: boolean;
      errorsAreDasguardErrors: boolean;
      refused: { deepDist: string; oldDocPath: string };
      rules: { path: string; count: number; files: number; problems: string[] };
      processRecord: { alerts: string[]; expected: string[]; quarantined: number };
      lambda: { batchItemFailures: unknown[]; alerts: string[]; expected: string[]; logLevels: string[] };
    };
    const real = await realpath(installed);
    assert.equal(r.resolved.root, join(real, 'dist', 'index.js'));
    assert.equal(r.resolved.lambda, join(real, 'dist', 'lambda.js'));
    assert.deepEqual(r.missing, []);
    assert.ok(r.sameLambdaModule && r.handlerIsFunction && r.errorsAreDasguardErrors);
    assert.deepEqual(r.refused, { deepDist: 'ERR_PACKAGE_PATH_NOT_EXPORTED', oldDocPath: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
    // The bundled rules, loaded from inside the installed package.
    assert.equal(r.rules.path, join(real, 'rules'));
    assert.equal(r.rules.files, (await readdir(join(ROOT, 'rules'))).filter((f) => f.endsWith('.yaml')).length);
    assert.ok(r.rules.count > 10, `${r.rules.count} rules`);
    assert.deepEqual(r.rules.problems, []);
    // The golden alerts, through processRecord (without the correlation ones: it looks at one record) and through the
    // Lambda handler.
    assert.ok(r.processRecord.expected.length > 0);
    assert.deepEqual(r.processRecord.alerts, r.processRecord.expected);
    assert.equal(r.processRecord.quarantined, 0);
    assert.deepEqual(r.lambda.batchItemFailures, []);
    assert.ok(r.lambda.expected.length > 0);
    assert.deepEqual(r.lambda.alerts, r.lambda.expected);
    assert.ok(!r.lambda.logLevels.includes('error'), `log levels: ${r.lambda.logLevels.join(', ')}`);
  });

  it('`dasguard --help` runs by name in an empty directory, through the bin link npm makes', async () => {
    // What `npm install` makes of package.json's bin: node_modules/.bin/dasguard -> ../dasguard/bin/dasguard.js.
    const bin = join(app, 'node_modules', '.bin');
    await mkdir(bin, { recursive: true });
    for (const [name, target] of Object.entries(manifest.bin)) await symlink(join('..', 'dasguard', target), join(bin, name));
    const empty = await mkdtemp(join(work, 'empty-'));
    const env = { ...plainEnv(), PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
    const { stdout } = await run('dasguard', ['--help'], { cwd: empty, env });
    assert.match(stdout, new RegExp(`^dasguard ${manifest.version.replace(/\./g, '\\.')}: `));
    assert.match(stdout, /^Usage: dasguard <command> \[options\]$/m);
    assert.match(stdout, /^ {2}replay PATH\.\.\. /m);
    assert.deepEqual(await readdir(empty), [], 'it writes nothing where it runs');
  });

  it('`npm install` of the tarball in an empty directory, as a user does, then `npx dasguard --help`', async (t) => {
    // The real install: npm resolves and fetches the declared dependencies (from its cache when it holds them,
    // else from the registry), links the bin, and runs no build (the tarball holds dist/).
    const user = await mkdtemp(join(work, 'user-'));
    await writeFile(join(user, 'package.json'), JSON.stringify({ name: 'user-app', private: true }));
    const started = Date.now();
    await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(work, pack.filename)], { cwd: user, env: plainEnv(), maxBuffer: 16 * 1024 * 1024 });
    t.diagnostic(`npm install took ${Date.now() - started} ms`);
    const { stdout } = await run(NPM, ['exec', '--offline', '--', 'dasguard', '--help'], { cwd: user, env: plainEnv() });
    assert.match(stdout, new RegExp(`^dasguard ${manifest.version.replace(/\./g, '\\.')}: `));
    const { stdout: version } = await run(join(user, 'node_modules', '.bin', 'dasguard'), ['--version'], { cwd: user, env: plainEnv() });
    assert.equal(version.trim(), manifest.version);
  });

  it('the installed bin runs (validate on the bundled rules)', async () => {
    const { stdout, stderr } = await run(process.execPath, [join(installed, 'bin', 'dasguard.js'), 'validate', join(installed, 'rules')], { cwd: app, env: plainEnv() });
    assert.match(stdout + stderr, /^\d+ rules \(\d+ enabled\) in \d+ files, pack version \d+\.\d+\.\d+, rules version sha256:[0-9a-f]{12}: OK$/m);
  });

  it('a TypeScript consumer, and every example importing the package in README and docs, type-check against the shipped declarations', async () => {
    await writeFile(
      join(app, 'consumer.ts'),
      [
        "import { loadRules, processRecord, LocalKeyProvider, DeliveryHandoff, resolveDeliveryConfig, type RuleSet, type SourceRecord, type Alert } from 'dasguard';",
        "import { handler, createEnvHandler, type KinesisStreamEvent, type KinesisStreamBatchResponse } from 'dasguard/lambda';",
        'export async function check(record: SourceRecord, event: KinesisStreamEvent): Promise<[Alert[], KinesisStreamBatchResponse]> {',
        '  const { ruleSet } = await loadRules(["rules"]);',
        '  const rules: RuleSet | undefined = ruleSet;',
        '  const keys = LocalKeyProvider.fromFile("key.json");',
        '  const outcome = await processRecord(record, rules ? { keys, rules } : { keys });',
        '  const config = await resolveDeliveryConfig("dasguard.yaml", process.env);',
        '  if (config) await (await DeliveryHandoff.open(config, { outboxDir: "/tmp/outbox" })).close();',
        '  void createEnvHandler;',
        '  return [outcome.alerts, await handler(event)];',
        '}',
        '',
      ].join('\n'),
    );
    // Every TypeScript example of the shipped README and docs that imports the package, as written there.
    const examples: string[] = [];
    for (const doc of ['README.md', ...(await readdir(join(installed, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
      const text = await readFile(join(installed, doc), 'utf8');
      for (const [, code] of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
        if (!/from 'dasguard[/']/.test(code!)) continue;
        const file = `example-${examples.length + 1}.ts`;
        // The examples' free variables: `alerts` (delivery.md's programmatic use).
        await writeFile(join(app, file), `// ${doc}\ndeclare const alerts: readonly import('dasguard').Alert[];\n${code}\nexport {};\n`);
        examples.push(file);
      }
    }
    assert.ok(examples.length >= 1, 'docs/delivery.md shows programmatic use');
    const options = { compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['consumer.ts', ...examples] };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(options));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, env: plainEnv() }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed on the consumer:\n${err.stdout ?? String(err)}`);
    });
  });
});
