/**
 * The official CycloneDX JSON schema check, as the CycloneDX library ships it (its
 * JsonStrictValidator over res/schema/bom-<version>.SNAPSHOT.schema.json, with ajv and the format
 * plug-ins it needs as dev dependencies). Null when the document is valid, else ajv's errors.
 */
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

const validators = new Map<string, Validation.JsonStrictValidator>();

export async function cycloneDxSchemaErrors(bom: unknown): Promise<unknown> {
  const specVersion = (bom as { specVersion?: unknown }).specVersion;
  const version = Object.values(Spec.Version).find((v) => v === specVersion);
  if (version === undefined) return [`specVersion ${JSON.stringify(specVersion)} is not a CycloneDX version`];
  let validator = validators.get(version);
  if (validator === undefined) {
    validator = new Validation.JsonStrictValidator(version);
    validators.set(version, validator);
  }
  return validator.validate(JSON.stringify(bom));
}
