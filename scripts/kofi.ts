/**
 * `npm run kofi -- subscribe <email> [--tier T] [--donation]`: sends a
 * real-shaped Ko-fi payment (form-encoded `data` JSON, with the local
 * stack's verification token from .local/stack.json) to the local gateway's
 * POST /kofi/webhook, then asks the premium check what the email is now.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { kofiPayment, postKofiPayment } from '../infra/local/kofi';
import type { StackState } from '../infra/local/stack';
import { option } from './args';

const HELP = `usage: npm run kofi -- <command>

  subscribe <email> [--tier T] [--donation] [--renewal] [--message-id ID] [--wrong-token]
        a Ko-fi payment from <email>: a membership payment (tier_name T; Ko-fi's tier name,
        mapped to a plan by the Ko-fi rules; none: the default plan), or with --donation a
        one-off donation (recorded only). --renewal: not the first payment of the membership.
        --message-id: resend a delivery (Ko-fi retries with the same id). --wrong-token: see a refusal.
  help  this text
`;

function stackState(): StackState {
  const file = resolve(__dirname, '..', process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch {
    throw new Error(`No local stack found (${file}). Start it first: npm run local`);
  }
}

async function subscribe(args: string[]): Promise<void> {
  const email = args[0];
  if (!email || email.startsWith('--')) throw new Error('subscribe: an email is required\n' + HELP);
  const stack = stackState();
  const donation = args.includes('--donation');
  const payment = kofiPayment({
    email,
    verificationToken: args.includes('--wrong-token') ? 'not-the-token' : stack.kofi.verificationToken,
    type: donation ? 'Donation' : 'Subscription',
    tierName: option(args, '--tier') ?? null,
    firstPayment: !args.includes('--renewal'),
    ...(option(args, '--message-id') ? { messageId: option(args, '--message-id') } : {}),
  });
  const delivered = await postKofiPayment(stack.kofi.webhookUrl, payment);
  process.stdout.write(`POST ${stack.kofi.webhookUrl}  ${payment.type}${payment.tier_name ? ` (tier ${String(payment.tier_name)})` : ''} from ${email}\n`);
  process.stdout.write(`  message_id ${String(payment.message_id)}\n  -> ${delivered.status} ${delivered.body}\n`);
  const check = await fetch(`${stack.gatewayUrl}/v1/premium/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': stack.internalApiKey },
    body: JSON.stringify({ email }),
  });
  process.stdout.write(`premium check: ${check.status} ${await check.text()}\n`);
  if (delivered.status !== 200) process.exitCode = 1;
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === 'subscribe') return subscribe(rest);
  process.stdout.write(HELP);
  if (command && command !== 'help') process.exitCode = 1;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
