/**
 * Writes schemas/pipeline.schema.json from the zod schema of pipeline definitions
 * (src/domain/pipeline/definition.ts) and schemas/environments.schema.json from the target
 * environments' schema (src/domain/pipeline/environments.ts), formatted with the repository's
 * Prettier settings.
 * Run after changing the schema: `npx tsx scripts/generate-schemas.ts` (`--check` only compares).
 * test/pipeline/definition.test.ts fails when the committed file differs from the generated one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipelineJsonSchema } from '../src/domain/pipeline/definition';
import { environmentsJsonSchema } from '../src/domain/pipeline/environments';

export const SCHEMA_FILE = path.resolve(__dirname, '..', 'schemas', 'pipeline.schema.json');
export const ENVIRONMENTS_SCHEMA_FILE = path.resolve(__dirname, '..', 'schemas', 'environments.schema.json');

/** The schema as JSON text, before formatting (the test compares the parsed value). */
export function pipelineSchemaJson(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}

export function environmentsSchemaJson(): string {
  return `${JSON.stringify(environmentsJsonSchema(), null, 2)}\n`;
}

async function main(): Promise<void> {
  const prettier = await import('prettier');
  for (const [file, json] of [
    [SCHEMA_FILE, pipelineSchemaJson()],
    [ENVIRONMENTS_SCHEMA_FILE, environmentsSchemaJson()],
  ] as const) {
    const options = (await prettier.resolveConfig(file)) ?? {};
    const text = await prettier.format(json, { ...options, filepath: file });
    const relative = path.relative(process.cwd(), file);
    if (process.argv.includes('--check')) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        // missing: reported below
      }
      if (current !== text) {
        console.error(`${relative} is out of date: run npx tsx scripts/generate-schemas.ts`);
        process.exitCode = 1;
        continue;
      }
      console.log(`${relative} is up to date`);
      continue;
    }
    writeFileSync(file, text);
    console.log(`wrote ${relative}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
