/** A page of a list endpoint, with Stripe's cursor parameters (`starting_after`, `ending_before`, `limit`). */
import { resourceMissing } from '../errors';
import type { FormObject } from '../form';
import { int, str } from '../params';
import type { Json } from '../state/records';

export function paginate<T extends { id: string }>(records: T[], params: FormObject, url: string, render: (record: T) => Json): Json {
  const limit = int(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = str(params, 'starting_after');
  const endingBefore = str(params, 'ending_before');
  const position = (id: string, param: string) => {
    const i = records.findIndex((r) => r.id === id);
    if (i === -1) throw resourceMissing('object', id, param);
    return i;
  };
  let page: T[];
  let hasMore: boolean;
  if (endingBefore) {
    const end = position(endingBefore, 'ending_before');
    page = records.slice(Math.max(0, end - limit), end);
    hasMore = end - limit > 0;
  } else {
    const start = startingAfter ? position(startingAfter, 'starting_after') + 1 : 0;
    page = records.slice(start, start + limit);
    hasMore = start + limit < records.length;
  }
  return { object: 'list', data: page.map(render), has_more: hasMore, url };
}
