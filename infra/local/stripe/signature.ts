import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stripe's webhook signature scheme, as the SDKs verify it
 * (`stripe.webhooks.constructEvent`): the header is `t=<unix seconds>,v1=<hex>`,
 * where the hex is HMAC-SHA256 keyed with the endpoint's `whsec_...` secret
 * over `"<t>.<raw body>"`. A fresh timestamp and signature are made for every
 * delivery attempt, so a retried event still passes the 5-minute tolerance.
 */

export function computeStripeSignature(payload: string, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

export function stripeSignatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${computeStripeSignature(payload, secret, timestamp)}`;
}

export interface ParsedSignatureHeader {
  timestamp: number;
  /** Every `v1` signature (Stripe sends several while a secret is being rolled). */
  signatures: string[];
}

export function parseStripeSignatureHeader(header: string): ParsedSignatureHeader | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && value) signatures.push(value);
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

/** True when one of the header's v1 signatures matches and its timestamp is within `toleranceSec` of `nowSec`. */
export function verifyStripeSignature(
  payload: string,
  header: string,
  secret: string,
  { toleranceSec = 300, nowSec = Math.floor(Date.now() / 1000) }: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  const parsed = parseStripeSignatureHeader(header);
  if (!parsed) return false;
  if (toleranceSec > 0 && Math.abs(nowSec - parsed.timestamp) > toleranceSec) return false;
  const expected = Buffer.from(computeStripeSignature(payload, secret, parsed.timestamp), 'utf8');
  return parsed.signatures.some((s) => {
    const given = Buffer.from(s, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
