/**
 * Writes schemas/pipeline.schema.json from the zod schema of pipeline definitions
 * (src/domain/pipeline/definition.ts), formatted with the repository's Prettier settings.
 * Run after changing the schema: `npx tsx scripts/generate-schemas.ts` (`--check` only compares).
 * test/pipeline/definition.test.ts fails when the committed file differs from the generated one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipelineJsonSchema } from '../src/domain/pipeline/definition';

export const SCHEMA_FILE = path.resolve(__dirname, '..', 'schemas', 'pipeline.schema.json');

/** The schema as JSON text, before formatting (the test compares the parsed value). */
export function pipelineSchemaJson(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}

async function main(): Promise<void> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  const text = await prettier.format(pipelineSchemaJson(), { ...options, filepath: SCHEMA_FILE });
  const relative = path.relative(process.cwd(), SCHEMA_FILE);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(SCHEMA_FILE, 'utf8');
    } catch {
      // missing: reported below
    }
    if (current !== text) {
      console.error(`${relative} is out of date: run npx tsx scripts/generate-schemas.ts`);
      process.exitCode = 1;
      return;
    }
    console.log(`${relative} is up to date`);
    return;
  }
  writeFileSync(SCHEMA_FILE, text);
  console.log(`wrote ${relative}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
