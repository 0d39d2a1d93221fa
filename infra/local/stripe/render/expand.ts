import { invalidParam } from '../errors';
import type { StripeState } from '../state';
import type { Json } from '../state/records';
import { renderById } from './index';

/** Replaces ids with objects along each `expand[]` path (`customer`, `data.latest_invoice`, `items.data.price.product`). */
export function applyExpand(value: Json, paths: string[], state: StripeState): Json {
  for (const path of paths) {
    const segments = path.split('.');
    if (segments.length > 4) throw invalidParam(`You cannot expand more than 4 levels of a property. Property: ${path}`, 'expand');
    expandAt(value, segments, state, path);
  }
  return value;
}

function expandAt(value: unknown, segments: string[], state: StripeState, path: string): void {
  if (Array.isArray(value)) {
    for (const item of value) expandAt(item, segments, state, path);
    return;
  }
  if (typeof value !== 'object' || value === null || segments.length === 0) return;
  const [head, ...rest] = segments as [string, ...string[]];
  const target = value as Json;
  if (!(head in target)) throw invalidParam(`This property cannot be expanded (${path}).`, 'expand');
  let child = target[head];
  if (typeof child === 'string') {
    const found = renderById(state, child);
    if (!found) throw invalidParam(`This property cannot be expanded (${path}).`, 'expand');
    child = found;
    target[head] = child;
  }
  expandAt(child, rest, state, path);
}
