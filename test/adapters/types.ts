export type { ImageDefinitionSpec } from '../../src/ports/azure';
export type { TenantFacts } from '../../src/local/azure-sim/world';
