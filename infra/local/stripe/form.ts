/**
 * Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and query
 * strings) with bracket notation for nesting: `metadata[userId]=u1`,
 * `line_items[0][price]=price_x`, `expand[]=customer`. stripe-node encodes
 * arrays with explicit indexes (`expand[0]=customer`), `null` as an empty
 * string, and leaves brackets unescaped; other clients escape them
 * (`%5B`/`%5D`) or use `[]`. All of those decode to the same nested value here.
 * Every leaf is a string, as on the wire: endpoints coerce their own numbers
 * and booleans, the way Stripe validates each parameter's type.
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormParseError extends Error {
  constructor(
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'FormParseError';
  }
}

const MAX_DEPTH = 10;
const MAX_ARRAY_INDEX = 1000;
/** Names that would reach Object.prototype through a plain object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new FormParseError(`Invalid URL encoding: ${text.slice(0, 40)}`);
  }
}

/** `line_items[0][price]` -> `['line_items', '0', 'price']`; `expand[]` -> `['expand', '']`. */
export function parseKeyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const head = key.slice(0, open);
  if (!head) throw new FormParseError(`Invalid parameter name: ${key}`, key);
  const segments = [head];
  let rest = key.slice(open);
  while (rest.length > 0) {
    const match = /^\[([^[\]]*)\]/.exec(rest);
    if (!match) throw new FormParseError(`Invalid parameter name: ${key}`, key);
    segments.push(match[1] as string);
    rest = rest.slice(match[0].length);
  }
  if (segments.length > MAX_DEPTH) throw new FormParseError(`Parameter nested too deeply: ${key}`, key);
  return segments;
}

const isIndex = (segment: string) => segment === '' || /^\d+$/.test(segment);
const isObject = (value: unknown): value is FormObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function assign(root: FormObject, path: string[], value: string, rawKey: string): void {
  for (const segment of path) {
    if (FORBIDDEN_KEYS.has(segment)) throw new FormParseError(`Invalid parameter name: ${rawKey}`, rawKey);
  }
  let container: FormObject | FormValue[] = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string;
    const last = i === path.length - 1;
    const next = last ? undefined : (path[i + 1] as string);

    if (Array.isArray(container)) {
      if (!isIndex(segment)) throw new FormParseError(`Invalid array parameter: ${rawKey}`, rawKey);
      const index: number = segment === '' ? container.length : Number(segment);
      if (index > MAX_ARRAY_INDEX) throw new FormParseError(`Array index too large: ${rawKey}`, rawKey);
      if (last) {
        container[index] = value;
        return;
      }
      let child: FormValue | undefined = container[index];
      if (child === undefined) {
        child = isIndex(next as string) ? [] : {};
        container[index] = child;
      }
      if (typeof child === 'string' || Array.isArray(child) !== isIndex(next as string)) {
        throw new FormParseError(`Conflicting values for parameter: ${rawKey}`, rawKey);
      }
      container = child;
    } else {
      if (last) {
        if (container[segment] !== undefined && typeof container[segment] !== 'string') {
          throw new FormParseError(`Conflicting values for parameter: ${rawKey}`, rawKey);
        }
        container[segment] = value;
        return;
      }
      let child: FormValue | undefined = container[segment];
      if (child === undefined) {
        child = isIndex(next as string) ? [] : {};
        container[segment] = child;
      }
      if (typeof child === 'string' || Array.isArray(child) !== isIndex(next as string)) {
        throw new FormParseError(`Conflicting values for parameter: ${rawKey}`, rawKey);
      }
      container = child;
    }
  }
}

/** Drops the holes `items[2]` without `items[1]` leaves, keeping index order. */
function compact(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter(() => true).map(compact);
  const out: FormObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = compact(v);
  return out;
}

/** Parses a form body or query string (without the leading `?`) into nested objects and arrays. */
export function parseStripeForm(body: string): FormObject {
  const root: FormObject = {};
  if (!body) return root;
  for (const pair of body.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    if (!rawKey) continue;
    assign(root, parseKeyPath(rawKey), value, rawKey);
  }
  return compact(root) as FormObject;
}

/**
 * The inverse, with stripe-node's conventions (indexed arrays, unescaped
 * brackets): used by the CLI and tests to talk to the API without the SDK.
 */
export function encodeStripeForm(data: Record<string, unknown>): string {
  const pairs: string[] = [];
  const enc = (text: string) => encodeURIComponent(text).replace(/%5B/g, '[').replace(/%5D/g, ']');
  const walk = (key: string, value: unknown) => {
    if (value === undefined) return;
    if (value === null || typeof value !== 'object') {
      pairs.push(`${enc(key)}=${enc(value === null ? '' : String(value))}`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${key}[${i}]`, v));
    } else {
      for (const [k, v] of Object.entries(value)) walk(`${key}[${k}]`, v);
    }
  };
  for (const [k, v] of Object.entries(data)) walk(k, v);
  return pairs.join('&');
}

export { isObject as isFormObject };
