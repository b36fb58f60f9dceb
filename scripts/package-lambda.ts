/**
 * Builds the Lambda artifact: src/lambda.ts bundled by esbuild (node22, the Lambda runtime nodejs22.x, ESM, minified, no source maps) into
 * dist-lambda/index.mjs, the bundled rule pack beside it in dist-lambda/rules/, both zipped into
 * dist-lambda/dasguard-lambda.zip (the `zip` command). Handler: `index.handler`. Prints the zip's size and file count.
 *
 * The AWS SDK v3 clients are bundled, not left to the runtime's copy: the function then runs the SDK versions the
 * tests ran, and `@smithy/node-http-handler` (imported directly) is not assumed to be resolvable in the runtime.
 * `--external-sdk` marks `@aws-sdk/*` external instead, to compare sizes (that bundle is not tested).
 *
 * Usage: node --import tsx scripts/package-lambda.ts [--out DIR] [--external-sdk]   (npm run package:lambda)
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface LambdaArtifact {
  dir: string;
  bundle: string;
  zip: string;
  zipBytes: number;
  bundleBytes: number;
  files: string[];
}

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesUnder(join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

export async function packageLambda(opts: { out?: string; externalSdk?: boolean } = {}): Promise<LambdaArtifact> {
  const dir = resolve(opts.out ?? join(ROOT, 'dist-lambda'));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const bundle = join(dir, 'index.mjs');
  await build({
    entryPoints: [join(ROOT, 'src', 'lambda.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: opts.externalSdk ? ['@aws-sdk/*'] : [],
    // The rule pack sits beside index.mjs (src/lambda/settings.ts).
    define: { __DASGUARD_RULES_FROM_MODULE__: JSON.stringify('rules') },
    // CommonJS dependencies (the Encryption SDK, json-rules-engine) call require() on Node built-ins.
    banner: { js: "import{createRequire as __dgCreateRequire}from'node:module';const require=__dgCreateRequire(import.meta.url);" },
  });
  await cp(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
  await cp(join(ROOT, 'LICENSE'), join(dir, 'LICENSE'));
  const files = await filesUnder(dir);
  const zip = join(dir, 'dasguard-lambda.zip');
  // -X: no extra file attributes (uid/gid); -q: quiet. Paths relative to dir: index.mjs at the zip's root.
  await run('zip', ['-X', '-q', '-9', zip, ...files], { cwd: dir });
  return { dir, bundle, zip, zipBytes: (await stat(zip)).size, bundleBytes: (await stat(bundle)).size, files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'external-sdk': { type: 'boolean', default: false } } });
  const a = await packageLambda({ ...(values.out !== undefined ? { out: values.out } : {}), externalSdk: values['external-sdk'] });
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`${a.zip}: ${a.zipBytes} bytes (${kb(a.zipBytes)}), ${a.files.length} files (index.mjs ${kb(a.bundleBytes)}); handler index.handler`);
}
