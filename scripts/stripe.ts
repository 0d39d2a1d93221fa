/**
 * `npm run stripe -- <command>`: play the customer (and the passing of time)
 * against the local stack's Stripe emulator. Every change sends the signed
 * webhooks real Stripe would send to the gateway's /stripe/webhook.
 * Run `npm run stripe -- help` for the commands.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { StripeEmulatorControl, type StripeObject } from '../infra/local/stripe/control';
import type { DeliverySettings, EventLogEntry } from '../infra/local/stripe/delivery';
import type { StackState } from '../infra/local/stack';

const HELP = `usage: npm run stripe -- <command>

  subscribe <email> <tier> [--trial-days N] [--another]
                                              the customer subscribes (tier: basic, pro, enterprise);
                                              --another: a second subscription beside a live one (as the dashboard allows)
  upgrade <email> <tier>                      switch the current subscription's plan (down works too)
  cancel <email> [--at-period-end]            cancel now, or at the end of the period
  resume <email>                              undo a cancellation scheduled for period end
  renew <email>                               the period ends: next period, invoice paid
  fail-payment <email> [--final]              the renewal payment fails: past_due (--final: unpaid)
  recover <email>                             the open invoice gets paid: active again
  complete-checkout <sessionId|url> [--email E]   pay a Checkout Session (card: paid at once)
  checkout-delayed <sessionId|url> [--email E]    pay it by bank debit: completes 'unpaid' (a subscription
                                              starts incomplete) until async-succeed or async-fail
  async-succeed <sessionId|url>               the bank debit settles: checkout.session.async_payment_succeeded
  async-fail <sessionId|url>                  the bank debit bounces: checkout.session.async_payment_failed
  refund <email|ch_|pi_|cs_> [--amount CENTS] refund a charge (email: the customer's newest paid charge),
                                              all that is left of it by default: charge.refunded, refund.created
  dispute <email|ch_|pi_|cs_> [open|won|lost] the bank opens a dispute on the charge (default), or decides
                                              its open dispute: charge.dispute.created / charge.dispute.closed
  customers <email>                           customers with that email and their subscriptions
  delete-customer <email>                     delete the newest customer with that email, as in the dashboard
                                              (its subscriptions are canceled; customer.deleted is sent)
  events [--type T] [--limit N]               recent webhook events and their delivery
  resend <eventId>                            deliver an event again
  delivery [--duplicate|--no-duplicate] [--delay MS] [--reorder|--no-reorder] [--pause|--resume]
           [--drop [--customer cus_1,cus_2] | --deliver]
                                              webhook delivery switches (no flag: show them);
                                              --drop loses events for good (reconcile repairs them)
  flush                                       send held events now and wait for deliveries
  fault <METHOD|*> <path-regex> [--hang|--status 500|429|503] [--count N]
                                              make the next API calls fail (e.g. fault POST '^/v1/customers$')
  reset-faults                                disarm all faults
  calls [--reset]                             API calls received, by method and path
  clock [--advance 24h|2d|90m|SECONDS]        the emulator's clock (advance it: idempotency keys expire after 24h)
  help                                        this text
`;

function stackState(): StackState {
  const file = resolve(__dirname, '..', process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
  let state: StackState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch {
    throw new Error(`No local stack found (${file}). Start it first: npm run local`);
  }
  try {
    process.kill(state.pid, 0);
  } catch {
    throw new Error(`The local stack that wrote ${file} (pid ${state.pid}) is not running. Start it: npm run local`);
  }
  return state;
}

function emulatorUrl(state: StackState): string {
  const url = state.services?.stripe;
  if (!url) throw new Error('This local stack runs no Stripe emulator (services.stripe is missing from stack.json).');
  if (!url.startsWith('http://')) throw new Error(`This local stack uses real Stripe (${url}): use the Stripe dashboard or the Stripe CLI instead.`);
  return url;
}

/** Positional arguments and `--flag [value]` options. */
function parseArgs(args: string[], valued: string[]): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      if (valued.includes(name)) {
        const value = inline ?? args[++i];
        if (value === undefined) throw new Error(`--${name} needs a value`);
        flags.set(name, value);
      } else {
        flags.set(name, true);
      }
    } else {
      positional.push(arg);
    }
  }
  return { positional, flags };
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new Error(`missing ${what}\n\n${HELP}`);
  return value;
}

function numberFlag(flags: Map<string, string | true>, name: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw === true || !Number.isFinite(n)) throw new Error(`--${name} needs a number`);
  return n;
}

/** `24h`, `2d`, `90m`, `30s` or plain seconds. */
function durationSeconds(raw: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!m) throw new Error(`not a duration: ${raw} (e.g. 24h, 2d, 90m, 3600)`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

const day = (unix: number | null | undefined) => (unix ? new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16) + 'Z' : '-');

function describeSubscription(sub: StripeObject): string {
  const item = sub.items?.data?.[0];
  const price = item?.price;
  const plan = price?.lookup_key ?? price?.id ?? '?';
  const parts = [sub.id, plan, sub.status, `period ${day(item?.current_period_start)} -> ${day(item?.current_period_end)}`];
  if (sub.trial_end && sub.status === 'trialing') parts.push(`trial ends ${day(sub.trial_end)}`);
  if (sub.cancel_at_period_end || sub.cancel_at) parts.push(`cancels ${day(sub.cancel_at ?? item?.current_period_end)}`);
  if (sub.ended_at) parts.push(`ended ${day(sub.ended_at)}`);
  return parts.join('  ');
}

function describeEvent(e: EventLogEntry): string {
  const last = e.attempts[e.attempts.length - 1];
  const outcome = last ? `${last.status ?? last.error ?? '?'}` : '-';
  return `${day(e.created)}  ${e.id}  ${e.type.padEnd(34)} ${String(e.objectId ?? '').padEnd(22)} ${e.state} (${e.attempts.length} attempt${e.attempts.length === 1 ? '' : 's'}, last ${outcome})`;
}

/** `refund` / `dispute` targets: an email, or a charge, payment intent or Checkout Session id. */
function chargeSelector(target: string): { email?: string; charge?: string; paymentIntent?: string; session?: string } {
  if (target.includes('@')) return { email: target };
  if (target.startsWith('ch_')) return { charge: target };
  if (target.startsWith('pi_')) return { paymentIntent: target };
  const session = /cs_[A-Za-z0-9_]+/.exec(target)?.[0];
  if (session) return { session };
  throw new Error(`not an email, charge (ch_), payment intent (pi_) or Checkout Session (cs_): ${target}`);
}

/** The customer's subscription that is not over, newest first. */
async function currentSubscription(control: StripeEmulatorControl, email: string): Promise<StripeObject> {
  const customers = await control.customers(email);
  if (customers.length === 0) throw new Error(`No Stripe customer with email ${email} (sign up first, or: npm run stripe -- subscribe ${email} basic)`);
  for (const { subscriptions } of customers) {
    const live = subscriptions.find((s) => s.status !== 'canceled' && s.status !== 'incomplete_expired');
    if (live) return live;
  }
  throw new Error(`${email} has no current subscription (npm run stripe -- subscribe ${email} <tier>)`);
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return;
  }
  const { positional, flags } = parseArgs(rest, ['trial-days', 'email', 'type', 'limit', 'delay', 'status', 'count', 'advance', 'amount', 'customer']);
  const control = new StripeEmulatorControl(emulatorUrl(stackState()));
  const out = (line: string) => process.stdout.write(`${line}\n`);

  switch (command) {
    case 'subscribe': {
      const email = need(positional[0], '<email>');
      const tier = need(positional[1], '<tier>');
      const { customer, subscription } = await control.subscribe({ email, tier, trialDays: numberFlag(flags, 'trial-days'), another: flags.has('another') });
      out(`${customer.email} (${customer.id}) subscribed:`);
      out(`  ${describeSubscription(subscription)}`);
      if (!customer.metadata?.userId) {
        process.stderr.write(`note: no app user is linked to ${customer.id} (metadata.userId is empty), so the webhook handler cannot map it to a user; sign up first: npm run user -- signup ${email}\n`);
      }
      break;
    }
    case 'upgrade':
    case 'downgrade': {
      const email = need(positional[0], '<email>');
      const tier = need(positional[1], '<tier>');
      const sub = await currentSubscription(control, email);
      out(describeSubscription(await control.changePrice(sub.id, { tier })));
      break;
    }
    case 'cancel': {
      const sub = await currentSubscription(control, need(positional[0], '<email>'));
      out(describeSubscription(await control.cancel(sub.id, { atPeriodEnd: flags.has('at-period-end') })));
      break;
    }
    case 'resume': {
      const sub = await currentSubscription(control, need(positional[0], '<email>'));
      out(describeSubscription(await control.resume(sub.id)));
      break;
    }
    case 'renew': {
      const sub = await currentSubscription(control, need(positional[0], '<email>'));
      const { subscription, invoice } = await control.advance(sub.id);
      out(describeSubscription(subscription));
      if (invoice) out(`  invoice ${invoice.id} ${invoice.status} $${(invoice.amount_paid / 100).toFixed(2)}`);
      break;
    }
    case 'fail-payment': {
      const sub = await currentSubscription(control, need(positional[0], '<email>'));
      const { subscription, invoice } = await control.failPayment(sub.id, { final: flags.has('final') });
      out(describeSubscription(subscription));
      if (invoice) out(`  invoice ${invoice.id} ${invoice.status}, ${invoice.attempt_count} failed attempt(s)`);
      break;
    }
    case 'recover': {
      const sub = await currentSubscription(control, need(positional[0], '<email>'));
      const { subscription, invoice } = await control.recover(sub.id);
      out(describeSubscription(subscription));
      if (invoice) out(`  invoice ${invoice.id} ${invoice.status}`);
      break;
    }
    case 'complete-checkout': {
      const target = need(positional[0], '<sessionId|url>');
      const sessionId = /cs_[A-Za-z0-9_]+/.exec(target)?.[0] ?? target;
      const email = flags.get('email');
      const done = await control.completeCheckout(sessionId, { email: typeof email === 'string' ? email : undefined });
      out(`${done.session.id} ${done.session.status} (${done.session.payment_status})`);
      if (done.customer) out(`  customer ${done.customer.id} ${done.customer.email ?? ''}`);
      if (done.subscription) out(`  ${describeSubscription(done.subscription)}`);
      break;
    }
    case 'checkout-delayed':
    case 'async-succeed':
    case 'async-fail': {
      const target = need(positional[0], '<sessionId|url>');
      const sessionId = /cs_[A-Za-z0-9_]+/.exec(target)?.[0] ?? target;
      const email = flags.get('email');
      const done =
        command === 'checkout-delayed'
          ? await control.completeCheckout(sessionId, { email: typeof email === 'string' ? email : undefined, delayed: true })
          : await control.asyncPayment(sessionId, command === 'async-succeed' ? 'succeeded' : 'failed');
      out(`${done.session.id} ${done.session.status} (${done.session.payment_status})`);
      if (done.customer) out(`  customer ${done.customer.id} ${done.customer.email ?? ''}`);
      if (done.subscription) out(`  ${describeSubscription(done.subscription)}`);
      break;
    }
    case 'refund': {
      const target = chargeSelector(need(positional[0], '<email|ch_|pi_|cs_>'));
      const { refund, charge } = await control.refund({ ...target, amount: numberFlag(flags, 'amount') });
      out(`${refund.id} $${(refund.amount / 100).toFixed(2)} of ${charge.id} (refunded $${(charge.amount_refunded / 100).toFixed(2)} of $${(charge.amount / 100).toFixed(2)})`);
      break;
    }
    case 'dispute': {
      const target = chargeSelector(need(positional[0], '<email|ch_|pi_|cs_>'));
      const action = positional[1] ?? 'open';
      if (action === 'open') {
        const { dispute, charge } = await control.openDispute(target);
        out(`${dispute.id} ${dispute.status} on ${charge.id} ($${(dispute.amount / 100).toFixed(2)}, ${dispute.reason})`);
      } else if (action === 'won' || action === 'lost') {
        const { dispute, charge } = await control.closeDispute(target, action);
        out(`${dispute.id} ${dispute.status} on ${charge.id}`);
      } else {
        throw new Error(`dispute action must be open, won or lost, not ${action}`);
      }
      break;
    }
    case 'customers': {
      const email = need(positional[0], '<email>');
      const found = await control.customers(email);
      if (found.length === 0) out(`No customer with email ${email}.`);
      for (const { customer, subscriptions } of found) {
        out(`${customer.id}  ${customer.email}  created ${day(customer.created)}  metadata ${JSON.stringify(customer.metadata)}`);
        for (const sub of subscriptions) out(`  ${describeSubscription(sub)}`);
        if (subscriptions.length === 0) out('  no subscriptions');
      }
      break;
    }
    case 'delete-customer': {
      const email = need(positional[0], '<email>');
      const [newest] = await control.customers(email);
      if (!newest) throw new Error(`No Stripe customer with email ${email}.`);
      const { subscriptions } = await control.deleteCustomer(newest.customer.id);
      out(`${newest.customer.id} deleted`);
      for (const sub of subscriptions) out(`  ${describeSubscription(sub)}`);
      break;
    }
    case 'events': {
      const type = flags.get('type');
      const limit = numberFlag(flags, 'limit') ?? 20;
      const events = await control.events({ type: typeof type === 'string' ? type : undefined });
      if (events.length === 0) out('No events yet.');
      for (const e of events.slice(-limit)) out(describeEvent(e));
      break;
    }
    case 'resend': {
      const entry = await control.resend(need(positional[0], '<eventId>'));
      await control.flush();
      out(describeEvent((await control.events()).find((e) => e.id === entry.id) ?? entry));
      break;
    }
    case 'delivery': {
      const change: Partial<DeliverySettings> = {};
      if (flags.has('duplicate')) change.duplicate = true;
      if (flags.has('no-duplicate')) change.duplicate = false;
      if (flags.has('reorder')) change.reorder = true;
      if (flags.has('no-reorder')) change.reorder = false;
      if (flags.has('pause')) change.paused = true;
      if (flags.has('resume')) change.paused = false;
      // --drop loses every event (or, with --customer, only that customer's); --deliver sends everything again.
      const customer = flags.get('customer');
      if (flags.has('drop')) Object.assign(change, typeof customer === 'string' ? { dropCustomers: customer.split(',') } : { drop: true });
      if (flags.has('deliver')) Object.assign(change, { drop: false, dropCustomers: [] });
      const delay = numberFlag(flags, 'delay');
      if (delay !== undefined) change.delayMs = delay;
      const settings = await control.delivery(Object.keys(change).length > 0 ? change : undefined);
      const drop = settings.drop ? 'all' : settings.dropCustomers.length > 0 ? settings.dropCustomers.join(',') : 'none';
      out(`duplicate ${settings.duplicate}  delayMs ${settings.delayMs}  reorder ${settings.reorder}  paused ${settings.paused}  drop ${drop}`);
      break;
    }
    case 'flush': {
      const result = await control.flush();
      out(`delivered ${result.delivered}  failed ${result.failed}  pending ${result.pending}`);
      break;
    }
    case 'fault': {
      const method = need(positional[0], '<METHOD>');
      const path = need(positional[1], '<path-regex>');
      const status = flags.has('hang') ? 'hang' : (numberFlag(flags, 'status') ?? 500);
      const fault = await control.fault({ method, path, status: status as 500, count: numberFlag(flags, 'count') ?? 1 });
      out(`armed: next ${fault.remaining} ${fault.method} ${fault.path} -> ${fault.status}`);
      break;
    }
    case 'reset-faults': {
      out(`removed ${(await control.resetFaults()).removed} fault(s)`);
      break;
    }
    case 'calls': {
      const calls = flags.has('reset') ? await control.resetCalls() : await control.calls();
      for (const [key, n] of Object.entries(calls.counts)) out(`${String(n).padStart(5)}  ${key}`);
      out(`${String(calls.total).padStart(5)}  total${flags.has('reset') ? ' (now reset)' : ''}`);
      break;
    }
    case 'clock': {
      const advance = flags.get('advance');
      if (advance === true) throw new Error('--advance needs a duration');
      const clock = await control.clock(advance === undefined ? undefined : { advanceSeconds: durationSeconds(advance) });
      out(`emulator time ${new Date(clock.now * 1000).toISOString()} (${clock.offsetSeconds}s ahead of real time)`);
      break;
    }
    default:
      throw new Error(`unknown command: ${command}\n\n${HELP}`);
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
