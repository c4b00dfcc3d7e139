/**
 * Derives the wire models in arm-models.json from the installed SDK packages (see
 * scripts/generate-arm-contract.ts for why two sources). Deterministic: same packages, same output,
 * so a test can regenerate and compare.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import type { WireModel, WireModels, WireProperty, WireSchema } from './schema';

/** The models whose wire shape the simulator's answers and the adapters' requests are checked against. */
export const CONTRACT_ROOTS = {
  imagebuilder: ['ImageTemplate', 'RunOutput'],
  compute: [
    'Gallery',
    'GalleryImage',
    'GalleryImageVersion',
    'GalleryImageVersionUpdate',
    'VirtualMachine',
    'Disk',
    'DiskUpdate',
    'Image',
    'RunCommandInput',
    'RunCommandResult',
    'VirtualMachineRunCommand',
    'VirtualMachineImageResource',
    'VirtualMachineImage',
  ],
  network: ['VirtualNetwork', 'Subnet', 'NetworkSecurityGroup', 'NetworkInterface'],
  resources: ['ResourceGroup', 'GenericResourceExpanded'],
  authorization: ['RoleAssignment', 'RoleAssignmentCreateParameters', 'RoleDefinition', 'Permission'],
} as const;

const PACKAGES = {
  imagebuilder: '@azure/arm-imagebuilder',
  compute: '@azure/arm-compute',
  network: '@azure/arm-network',
  resources: '@azure/arm-resources',
  authorization: '@azure/arm-authorization',
} as const;

type SdkKey = keyof typeof PACKAGES;

function packageDir(name: string): string {
  // package.json is exported by every one of them, so this resolves whatever their exports map says.
  return path.dirname(require.resolve(`${name}/package.json`));
}

function packageLabel(name: string): string {
  const version = (
    JSON.parse(readFileSync(path.join(packageDir(name), 'package.json'), 'utf8')) as { version: string }
  ).version;
  return `${name}@${version}`;
}

// ---------------------------------------------------------------------------------------------
// TypeSpec-generated packages: .d.ts interfaces

function modelDtsFiles(sdk: SdkKey): string[] {
  const root = path.join(packageDir(PACKAGES[sdk]), 'dist', 'commonjs', 'models');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'models.d.ts') files.push(full);
    }
  };
  walk(root);
  return files.sort();
}

function fromDeclarations(sdk: SdkKey, roots: readonly string[], models: WireModels): void {
  const files = modelDtsFiles(sdk);
  const program = ts.createProgram(files, { noEmit: true, strict: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const label = packageLabel(PACKAGES[sdk]);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  for (const file of files) {
    const source = program.getSourceFile(file);
    source?.forEachChild((node) => {
      if (ts.isInterfaceDeclaration(node) && !interfaces.has(node.name.text))
        interfaces.set(node.name.text, node);
    });
  }
  const key = (name: string): string => `${sdk}.${name}`;
  const pending: string[] = [...roots];

  const propertiesOf = (name: string): ts.Symbol[] => {
    const declaration = interfaces.get(name);
    if (declaration === undefined) throw new Error(`${label} has no interface ${name}`);
    return checker.getPropertiesOfType(checker.getTypeAtLocation(declaration));
  };
  const isReadOnly = (symbol: ts.Symbol): boolean =>
    (symbol.declarations ?? []).some(
      (d) =>
        ts.canHaveModifiers(d) &&
        (ts.getModifiers(d) ?? []).some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword),
    );
  const isOptional = (symbol: ts.Symbol): boolean => (symbol.flags & ts.SymbolFlags.Optional) !== 0;

  const refTo = (name: string): WireSchema => {
    if (!(key(name) in models) && !pending.includes(name)) pending.push(name);
    return { kind: 'ref', name: key(name) };
  };

  const schemaOf = (type: ts.Type): WireSchema => {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return { kind: 'any' };
    if (type.isUnion()) {
      const members = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
      if (members.length === 1 && members[0] !== undefined) return schemaOf(members[0]);
      if (members.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return { kind: 'boolean' };
      if (members.some((t) => t.flags & ts.TypeFlags.String)) return { kind: 'string' };
      if (members.every((t) => t.isStringLiteral()))
        return { kind: 'string', enum: members.map((t) => t.value).sort() };
      if (members.every((t) => t.flags & ts.TypeFlags.Object)) return unionOf(members);
      return { kind: 'any' };
    }
    if (type.flags & ts.TypeFlags.String) return { kind: 'string' };
    if (type.isStringLiteral()) return { kind: 'literal', value: type.value };
    if (type.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)) return { kind: 'number' };
    if (type.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)) return { kind: 'boolean' };
    if (checker.isArrayType(type)) {
      const item = checker.getTypeArguments(type as ts.TypeReference)[0];
      return { kind: 'array', items: item === undefined ? { kind: 'any' } : schemaOf(item) };
    }
    const symbol = type.aliasSymbol ?? type.getSymbol();
    if (symbol?.getName() === 'Date') return { kind: 'date' };
    if (symbol?.getName() === 'Uint8Array') return { kind: 'string' };
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (index !== undefined && checker.getPropertiesOfType(type).length === 0)
      return { kind: 'map', values: schemaOf(index.type) };
    const name = type.getSymbol()?.getName();
    if (name !== undefined && interfaces.has(name)) return refTo(name);
    return { kind: 'any' };
  };

  const unionOf = (members: ts.Type[]): WireSchema => {
    // Discriminated unions (XUnion): the member whose discriminator is a plain string is the base.
    const names = members.map((t) => t.getSymbol()?.getName() ?? '?');
    const candidates = checker.getPropertiesOfType(members[0] as ts.Type).map((p) => p.getName());
    for (const discriminator of candidates) {
      const variants: Record<string, string> = {};
      let base: string | undefined;
      let ok = true;
      members.forEach((member, i) => {
        const property = member.getProperty(discriminator);
        const name = names[i] as string;
        if (property === undefined) return void (ok = false);
        const t = checker.getNonNullableType(checker.getTypeOfSymbol(property));
        if (t.isStringLiteral()) variants[t.value] = key(name);
        else if (t.flags & ts.TypeFlags.String) base = key(name);
        else ok = false;
        if (!(key(name) in models) && !pending.includes(name)) pending.push(name);
      });
      if (ok && Object.keys(variants).length > 0)
        return { kind: 'union', discriminator, variants, ...(base === undefined ? {} : { base }) };
    }
    return { kind: 'any' };
  };

  const property = (symbol: ts.Symbol): WireProperty => ({
    schema: schemaOf(checker.getTypeOfSymbol(symbol)),
    required: !isOptional(symbol),
    readOnly: isReadOnly(symbol),
  });

  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (key(name) in models) continue;
    const all = propertiesOf(name);
    // The spec's `properties` object is XProperties (network: XPropertiesFormat); `XUpdate` (PATCH
    // bodies) nests the same one as X. Only when X really carries its fields lifted to the top.
    const names = new Set(all.map((p) => p.getName()));
    const base = name.replace(/Update$/, '');
    const inner = [
      `${name}Properties`,
      `${base}Properties`,
      `${name}PropertiesFormat`,
      `${base}PropertiesFormat`,
    ].find((n) => interfaces.has(n) && propertiesOf(n).some((p) => names.has(p.getName())));
    const nested = inner !== undefined && !names.has('properties');
    const model: WireModel = { source: `${label} ${name}`, properties: {} };
    models[key(name)] = model;
    if (!nested) {
      for (const symbol of all) model.properties[symbol.getName()] = property(symbol);
      continue;
    }
    // The SDK lifts `properties.*` to the top; the wire keeps them nested, with the nested
    // interface's own required fields.
    const innerNames = new Set(propertiesOf(inner).map((p) => p.getName()));
    for (const symbol of all)
      if (!innerNames.has(symbol.getName())) model.properties[symbol.getName()] = property(symbol);
    model.properties.properties = { schema: refTo(inner), required: false, readOnly: false };
  }
}

// ---------------------------------------------------------------------------------------------
// AutoRest packages: serialization mappers

interface Mapper {
  serializedName?: string;
  required?: boolean;
  readOnly?: boolean;
  constraints?: {
    Pattern?: RegExp | string;
    MaxLength?: number;
    MinLength?: number;
    InclusiveMaximum?: number;
    InclusiveMinimum?: number;
  };
  type: {
    name: string;
    className?: string;
    modelProperties?: Record<string, Mapper>;
    element?: Mapper;
    value?: Mapper;
    allowedValues?: string[];
  };
}

function loadMappers(sdk: SdkKey): Record<string, Mapper> {
  const dir = packageDir(PACKAGES[sdk]);
  const compiled = path.join(dir, 'dist', 'commonjs', 'models', 'mappers.js');
  const load = createRequire(__filename);
  if (existsSync(compiled)) return load(compiled) as Record<string, Mapper>;
  // Older AutoRest packages bundle their mappers; they ship the TypeScript source, which tsx loads
  // (this runs from scripts/generate-arm-contract.ts only).
  return load(path.join(dir, 'src', 'models', 'mappers.ts')) as Record<string, Mapper>;
}

function fromMappers(sdk: SdkKey, roots: readonly string[], models: WireModels): void {
  const mappers = loadMappers(sdk);
  const label = packageLabel(PACKAGES[sdk]);
  const key = (name: string): string => `${sdk}.${name}`;
  const pending: string[] = [...roots];

  const schemaOf = (mapper: Mapper): WireSchema => {
    const t = mapper.type;
    const c = mapper.constraints ?? {};
    switch (t.name) {
      case 'String':
      case 'Uuid':
      case 'Base64Url':
      case 'ByteArray':
        return {
          kind: 'string',
          ...(c.Pattern === undefined
            ? {}
            : { pattern: typeof c.Pattern === 'string' ? c.Pattern : c.Pattern.source }),
          ...(c.MaxLength === undefined ? {} : { maxLength: c.MaxLength }),
          ...(c.MinLength === undefined ? {} : { minLength: c.MinLength }),
        };
      case 'Enum':
        return { kind: 'string', enum: [...(t.allowedValues ?? [])].sort() };
      case 'Number':
        return {
          kind: 'number',
          ...(c.InclusiveMinimum === undefined ? {} : { minimum: c.InclusiveMinimum }),
          ...(c.InclusiveMaximum === undefined ? {} : { maximum: c.InclusiveMaximum }),
        };
      case 'Boolean':
        return { kind: 'boolean' };
      case 'Date':
      case 'DateTime':
      case 'DateTimeRfc1123':
        return { kind: 'date' };
      case 'Sequence':
        return { kind: 'array', items: t.element === undefined ? { kind: 'any' } : schemaOf(t.element) };
      case 'Dictionary':
        return { kind: 'map', values: t.value === undefined ? { kind: 'any' } : schemaOf(t.value) };
      case 'Composite': {
        const name = t.className ?? '?';
        if (!(key(name) in models) && !pending.includes(name)) pending.push(name);
        return { kind: 'ref', name: key(name) };
      }
      default:
        return { kind: 'any' };
    }
  };

  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (key(name) in models) continue;
    const mapper = mappers[name];
    if (mapper === undefined) throw new Error(`${label} has no mapper ${name}`);
    const model: WireModel = { source: `${label} ${name}`, properties: {} };
    models[key(name)] = model;
    for (const property of Object.values(mapper.type.modelProperties ?? {})) {
      const wirePath = (property.serializedName ?? '').split(/(?<!\\)\./).map((s) => s.replace(/\\\./g, '.'));
      // `properties.x` (client-flattened): nest under a synthetic model for that level.
      let target = model;
      let targetName = key(name);
      for (const segment of wirePath.slice(0, -1)) {
        const childName = `${targetName}.${segment}`;
        if (!(segment in target.properties))
          target.properties[segment] = {
            schema: { kind: 'ref', name: childName },
            required: false,
            readOnly: false,
          };
        models[childName] ??= { source: `${label} ${name} (${segment})`, properties: {} };
        target = models[childName];
        targetName = childName;
      }
      const last = wirePath[wirePath.length - 1];
      if (last === undefined || last === '') continue;
      target.properties[last] = {
        schema: schemaOf(property),
        required: property.required === true,
        readOnly: property.readOnly === true,
      };
    }
  }
}

/** AutoRest packages ship serialization mappers; TypeSpec-generated ones only typed models. */
function hasMappers(sdk: SdkKey): boolean {
  const dir = packageDir(PACKAGES[sdk]);
  return (
    existsSync(path.join(dir, 'dist', 'commonjs', 'models', 'mappers.js')) ||
    existsSync(path.join(dir, 'src', 'models', 'mappers.ts'))
  );
}

export function buildArmContract(): WireModels {
  const models: WireModels = {};
  for (const sdk of Object.keys(CONTRACT_ROOTS) as SdkKey[]) {
    if (hasMappers(sdk)) fromMappers(sdk, CONTRACT_ROOTS[sdk], models);
    else fromDeclarations(sdk, CONTRACT_ROOTS[sdk], models);
  }
  return Object.fromEntries(Object.entries(models).sort(([a], [b]) => a.localeCompare(b)));
}
