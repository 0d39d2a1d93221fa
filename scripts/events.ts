/**
 * `npm run events`: the last entitlement.changed events of the running local
 * stack (its event bus keeps them). `npm run events -- --limit N`, or
 * `npm run events -- schema` to regenerate the committed JSON Schema from zod.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BusEvent } from '../infra/local/event-bus';
import type { StackState } from '../infra/local/stack';
import { ENTITLEMENT_CHANGED_SCHEMA_FILE, entitlementChangedJsonSchema } from '../shared/domain/entitlement-events';

const ROOT = resolve(__dirname, '..');

async function main(args: string[]): Promise<void> {
  if (args[0] === 'schema') {
    writeFileSync(resolve(ROOT, ENTITLEMENT_CHANGED_SCHEMA_FILE), `${JSON.stringify(entitlementChangedJsonSchema(), null, 2)}\n`);
    process.stdout.write(`wrote ${ENTITLEMENT_CHANGED_SCHEMA_FILE}\n`);
    return;
  }
  const limitAt = args.indexOf('--limit');
  const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : 20;
  const stateFile = resolve(ROOT, process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
  let state: StackState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as StackState;
  } catch {
    throw new Error(`no running local stack (${stateFile} is missing): start it with npm run local`);
  }
  const out = (await (await fetch(`${state.events.busUrl}/events?limit=${limit}`)).json()) as { webhookUrl: string | null; events: BusEvent[] };
  process.stdout.write(`${out.events.length} event(s); webhook: ${out.webhookUrl ?? 'none (set EVENTS_WEBHOOK_URL)'}\n`);
  for (const event of out.events) process.stdout.write(`${JSON.stringify(event.detail, null, 2)}\n`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
