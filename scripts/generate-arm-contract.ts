/**
 * Writes src/local/azure-sim/contract/arm-models.json: the wire shape of every ARM model the adapters
 * send or read, taken from the installed SDK packages, which are generated from Azure's REST specs.
 * - TypeSpec-generated ("modular") packages (@azure/arm-compute, @azure/arm-imagebuilder): from their
 *   .d.ts models with the TypeScript compiler; a model X whose spec nests fields under `properties`
 *   has an `XProperties` interface there, which gives the wire nesting and that level's required fields.
 * - AutoRest packages (@azure/arm-network, -resources, -authorization): from their serialization
 *   mappers (serializedName paths such as `properties.subnets`, required, readOnly, enums, constraints).
 * Run `npm run contract` after upgrading an SDK; test/azure-sim/contract.test.ts (`--check`) fails until then.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildArmContract } from '../src/local/azure-sim/contract/generate';

const out = path.join(__dirname, '..', 'src', 'local', 'azure-sim', 'contract', 'arm-models.json');
const models = buildArmContract();
const text = `${JSON.stringify(models, null, 1)}\n`;
if (process.argv.includes('--check')) {
  // test/azure-sim/contract.test.ts: the committed file must be what the installed SDKs define.
  if (readFileSync(out, 'utf8') !== text) {
    console.error(
      `${path.relative(process.cwd(), out)} differs from the installed SDK packages: run npm run contract`,
    );
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log(`wrote ${Object.keys(models).length} models to ${path.relative(process.cwd(), out)}`);
}
