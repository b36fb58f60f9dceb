/** Writes schema/dasguard.schema.json from the config definition: `node --import tsx schema/generate.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toJsonSchema } from '../src/delivery/configSchema.js';

export const SCHEMA_PATH = fileURLToPath(new URL('./dasguard.schema.json', import.meta.url));

export function schemaText(): string {
  return JSON.stringify(toJsonSchema(), null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}
