/**
 * ASP.NET-style route templates as the Functions host uses them for HTTP triggers:
 * literal segments (case-insensitive), `{name}`, `{name?}`, `{name=default}`, `{name:constraint}`
 * (constraints chain: `{id:int:min(1)}`), and a trailing catch-all `{*rest}`.
 */

type Constraint = (value: string) => boolean;

interface ParamPart {
  kind: 'param';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: Constraint[];
}
interface LiteralPart {
  kind: 'literal';
  text: string;
}
type Part = ParamPart | LiteralPart;

export interface RouteTemplate {
  template: string;
  segments: Part[][];
  /** Lower sorts first: literal segments beat constrained parameters beat plain ones beat catch-alls. */
  precedence: number[];
}

const INT = /^-?\d+$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const GUID = /^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$/;

function constraintOf(spec: string, template: string): Constraint {
  const call = /^(\w+)(?:\((.*)\))?$/s.exec(spec);
  if (call === null) throw new Error(`Route '${template}': unknown constraint '${spec}'`);
  const name = (call[1] ?? '').toLowerCase();
  const args =
    call[2] === undefined ? [] : name === 'regex' ? [call[2]] : call[2].split(',').map((a) => a.trim());
  const num = (i: number): number => {
    const value = Number(args[i]);
    if (args[i] === undefined || !Number.isFinite(value))
      throw new Error(`Route '${template}': constraint '${spec}' needs a number`);
    return value;
  };
  switch (name) {
    case 'int':
      return (v) => INT.test(v) && Math.abs(Number(v)) <= 2147483648;
    case 'long':
      return (v) => INT.test(v);
    case 'decimal':
    case 'double':
    case 'float':
      return (v) => NUMBER.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => GUID.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'minlength': {
      const n = num(0);
      return (v) => v.length >= n;
    }
    case 'maxlength': {
      const n = num(0);
      return (v) => v.length <= n;
    }
    case 'length': {
      const min = num(0);
      const max = args.length > 1 ? num(1) : min;
      return (v) => v.length >= min && v.length <= max;
    }
    case 'min': {
      const n = num(0);
      return (v) => INT.test(v) && Number(v) >= n;
    }
    case 'max': {
      const n = num(0);
      return (v) => INT.test(v) && Number(v) <= n;
    }
    case 'range': {
      const min = num(0);
      const max = num(1);
      return (v) => INT.test(v) && Number(v) >= min && Number(v) <= max;
    }
    case 'regex': {
      const pattern = new RegExp(args[0] ?? '', 'i');
      return (v) => pattern.test(v);
    }
    default:
      throw new Error(`Route '${template}': unknown constraint '${spec}'`);
  }
}

function parseParam(body: string, template: string): ParamPart {
  let text = body;
  const catchAll = text.startsWith('*');
  if (catchAll) text = text.replace(/^\*\*?/, '');
  // Constraints may contain ':' inside regex(...) parentheses; split on ':' at depth 0.
  const pieces: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      pieces.push(current);
      current = '';
    } else current += ch;
  }
  pieces.push(current);
  let head = pieces[0] ?? '';
  let defaultValue: string | undefined;
  let optional = false;
  const eq = head.indexOf('=');
  if (eq >= 0) {
    defaultValue = head.slice(eq + 1);
    head = head.slice(0, eq);
  }
  let constraintSpecs = pieces.slice(1);
  const last = constraintSpecs.length > 0 ? constraintSpecs[constraintSpecs.length - 1] : undefined;
  if (head.endsWith('?')) {
    optional = true;
    head = head.slice(0, -1);
  } else if (last?.endsWith('?')) {
    optional = true;
    constraintSpecs = [...constraintSpecs.slice(0, -1), last.slice(0, -1)];
  }
  if (!/^\w+$/.test(head)) throw new Error(`Route '${template}': bad parameter '{${body}}'`);
  return {
    kind: 'param',
    name: head,
    optional: optional || catchAll,
    catchAll,
    ...(defaultValue === undefined ? {} : { defaultValue }),
    constraints: constraintSpecs.filter((s) => s !== '').map((s) => constraintOf(s, template)),
  };
}

function parseSegment(segment: string, template: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < segment.length) {
    if (segment[i] === '{') {
      let depth = 0;
      let j = i;
      for (; j < segment.length; j++) {
        if (segment[j] === '{') depth++;
        if (segment[j] === '}' && --depth === 0) break;
      }
      if (j >= segment.length) throw new Error(`Route '${template}': unclosed '{'`);
      parts.push(parseParam(segment.slice(i + 1, j), template));
      i = j + 1;
    } else {
      const next = segment.indexOf('{', i);
      const end = next < 0 ? segment.length : next;
      parts.push({ kind: 'literal', text: segment.slice(i, end) });
      i = end;
    }
  }
  return parts;
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/').map((s) => parseSegment(s, template));
  const precedence = segments.map((parts) => {
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only?.kind === 'literal') return 1;
    if (only?.kind === 'param' && only.catchAll) return 5;
    if (only?.kind === 'param') return only.constraints.length > 0 ? 3 : 4;
    return 2; // complex segment such as 'file.{ext}'
  });
  return { template, segments, precedence };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches one complex segment such as `{name}.{ext}` lazily from the left, as ASP.NET does. */
function matchSegment(parts: Part[], value: string, out: Record<string, string>): boolean {
  if (parts.length === 1 && parts[0]?.kind === 'param') {
    const p = parts[0];
    if (!p.constraints.every((c) => c(value))) return false;
    out[p.name] = value;
    return true;
  }
  const pattern = parts.map((p) => (p.kind === 'literal' ? escapeRegExp(p.text) : '(.+?)')).join('');
  const m = new RegExp(`^${pattern}$`, 'i').exec(value);
  if (m === null) return false;
  let g = 1;
  for (const p of parts) {
    if (p.kind !== 'param') continue;
    const v = m[g++] ?? '';
    if (!p.constraints.every((c) => c(v))) return false;
    out[p.name] = v;
  }
  return true;
}

/** Matches decoded path segments (after the route prefix); returns route values or undefined. */
export function matchRoute(route: RouteTemplate, pathSegments: string[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  const { segments } = route;
  for (let i = 0; i < segments.length; i++) {
    const parts = segments[i] ?? [];
    const first = parts[0];
    if (parts.length === 1 && first?.kind === 'param' && first.catchAll) {
      const rest = pathSegments.slice(i).join('/');
      if (rest !== '') {
        if (!first.constraints.every((c) => c(rest))) return undefined;
        values[first.name] = rest;
      } else if (first.defaultValue !== undefined) values[first.name] = first.defaultValue;
      return values;
    }
    const value = pathSegments[i];
    if (value === undefined || value === '') {
      // Missing segment: allowed only when this and every later segment is optional or defaulted.
      for (const rest of segments.slice(i)) {
        const p = rest.length === 1 ? rest[0] : undefined;
        if (p?.kind !== 'param' || !(p.optional || p.defaultValue !== undefined)) return undefined;
        if (p.defaultValue !== undefined) values[p.name] = p.defaultValue;
      }
      return pathSegments.length <= i + 1 ? values : undefined;
    }
    if (parts.length === 1 && first?.kind === 'literal') {
      if (first.text.toLowerCase() !== value.toLowerCase()) return undefined;
      continue;
    }
    if (!matchSegment(parts, value, values)) return undefined;
  }
  return pathSegments.length === segments.length ? values : undefined;
}

/** Orders routes the way the host's router tries them: most specific first. */
export function compareRoutes(a: RouteTemplate, b: RouteTemplate): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const x = a.precedence[i] ?? 0;
    const y = b.precedence[i] ?? 0;
    if (x !== y) return x - y;
  }
  return a.template.localeCompare(b.template);
}
