/**
 * Writes the editor schemas: schema/dasguard.schema.json (delivery config) and schema/rules.schema.json (rule
 * files), each from the definitions the loaders use: `npm run schemas`. Tests fail when a committed copy is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toJsonSchema } from '../src/delivery/configSchema.js';
import { rulesJsonSchema } from '../src/rules/schema.js';

export const SCHEMA_PATH = fileURLToPath(new URL('./dasguard.schema.json', import.meta.url));
export const RULES_SCHEMA_PATH = fileURLToPath(new URL('./rules.schema.json', import.meta.url));

export function schemaText(): string {
  return JSON.stringify(toJsonSchema(), null, 2) + '\n';
}

export function rulesSchemaText(): string {
  return JSON.stringify(rulesJsonSchema(), null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_PATH, schemaText());
  writeFileSync(RULES_SCHEMA_PATH, rulesSchemaText());
  console.log(`wrote ${SCHEMA_PATH} and ${RULES_SCHEMA_PATH}`);
}
