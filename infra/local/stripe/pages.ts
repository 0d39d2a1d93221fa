/**
 * The few pages a person clicks through on `npm run local`: the hosted
 * Checkout page (a "Pay" button), the billing portal (switch tier, cancel)
 * and a hosted invoice. Plain HTML forms posting to the control API.
 */
import type { ServerResponse } from 'node:http';
import { sendText } from '../http';
import { PRICE_IDS } from './catalog';
import { StripeApiError } from './errors';
import type { Json, StripeState } from './state';
import { renderCheckoutLineItems, renderCheckoutSession, renderCustomer, renderInvoice, renderPortalSession, renderSubscription } from './render';

// The pages show live state: a browser must not show a stale one after a form post.
const sendHtml = (res: ServerResponse, status: number, html: string) => sendText(res, status, 'text/html; charset=utf-8', html, { 'Cache-Control': 'no-store' });

const escape = (text: unknown) =>
  String(text ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const usd = (cents: number | null | undefined) => (cents === null || cents === undefined ? '-' : `$${(cents / 100).toFixed(2)}`);
const date = (unix: number | null | undefined) => (unix ? new Date(unix * 1000).toISOString().slice(0, 10) : '-');

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 560px; margin: 40px auto; padding: 0 16px; color: #1a1f36; }
  .badge { display: inline-block; background: #ffe8a3; border-radius: 4px; padding: 0 6px; font-size: 12px; }
  table { width: 100%; border-collapse: collapse; margin: 16px 0; } td, th { padding: 6px 4px; border-bottom: 1px solid #e3e8ee; text-align: left; }
  button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: 10px 18px; font-size: 15px; cursor: pointer; margin: 4px 4px 4px 0; }
  button.secondary { background: #e3e8ee; color: #1a1f36; }
  input { padding: 8px; font-size: 15px; width: 100%; box-sizing: border-box; margin: 4px 0 12px; }
  .muted { color: #697386; font-size: 13px; }
</style></head>
<body><p><span class="badge">LOCAL STRIPE EMULATOR: test mode, no real money</span></p>
${body}
</body></html>`;
}

export function checkoutPage(session: Json, lineItems: Json[], customerEmail: string | null): string {
  const id = escape(session.id);
  if (session.status !== 'open') {
    return layout(
      'Checkout',
      `<h1>Checkout ${escape(session.status)}</h1>
<p>Payment status: <b>${escape(session.payment_status)}</b>.</p>
${session.subscription ? `<p>Subscription <code>${escape(session.subscription)}</code></p>` : ''}
${session.success_url ? `<p><a href="${escape(String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id))}">Back to the app</a></p>` : ''}`,
    );
  }
  const rows = lineItems
    .map((li) => {
      const interval = li.price?.recurring ? ` / ${escape(li.price.recurring.interval)}` : '';
      return `<tr><td>${escape(li.description)}</td><td>${escape(li.quantity)}</td><td>${usd(li.price?.unit_amount)}${interval}</td></tr>`;
    })
    .join('');
  return layout(
    'Checkout',
    `<h1>${session.mode === 'subscription' ? 'Subscribe' : 'Pay'}</h1>
<table><tr><th>Item</th><th>Qty</th><th>Price</th></tr>${rows}</table>
<p>Due today: <b>${usd(session.amount_total)}</b></p>
<form method="post" action="/_emulator/checkout/${id}/complete">
  <input type="hidden" name="redirect" value="1">
  <label>Email<input name="email" type="email" value="${escape(customerEmail ?? '')}" ${customerEmail ? 'readonly' : 'placeholder="you@example.com"'}></label>
  <p class="muted">Card 4242 4242 4242 4242 is assumed; nothing to type.</p>
  <button type="submit">Pay</button>
  <button type="submit" class="secondary" name="delayed" value="true" title="Completes unpaid; settle it with npm run stripe -- async-succeed / async-fail">Pay by bank debit (settles later)</button>
  ${session.cancel_url ? `<a href="${escape(session.cancel_url)}">Cancel</a>` : ''}
</form>`,
  );
}

export function portalPage(portal: Json, customer: Json, subscriptions: Json[], tiers: Array<{ tier: string; name: string; price: string }>): string {
  const back = `/billing_portal/${escape(portal.id)}`;
  const action = (subId: string, path: string, fields: Record<string, string>, label: string, secondary = false) =>
    `<form method="post" action="/_emulator/subscriptions/${escape(subId)}/${path}" style="display:inline">
<input type="hidden" name="redirect" value="${back}">${Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
      .join('')}<button${secondary ? ' class="secondary"' : ''}>${escape(label)}</button></form>`;
  const live = subscriptions.filter((s) => s.status !== 'canceled' && s.status !== 'incomplete_expired');
  const blocks = live
    .map((s) => {
      const item = s.items?.data?.[0];
      const price = item?.price;
      const switches = tiers
        .filter((t) => t.price !== price?.id)
        .map((t) => action(s.id, 'change-price', { tier: t.tier }, `Switch to ${t.name}`, true))
        .join('');
      const scheduled = s.cancel_at_period_end || s.cancel_at;
      return `<h2>${escape(price?.nickname ?? price?.id)} <span class="muted">${escape(s.status)}</span></h2>
<p>${usd(price?.unit_amount)} / ${escape(price?.recurring?.interval ?? 'month')}. Current period ends ${date(item?.current_period_end)}.
${scheduled ? `<b>Cancels on ${date(s.cancel_at ?? item?.current_period_end)}.</b>` : ''}</p>
<p>${switches}</p>
<p>${scheduled ? action(s.id, 'resume', {}, "Don't cancel") : action(s.id, 'cancel', { atPeriodEnd: 'true' }, 'Cancel at period end', true)}</p>`;
    })
    .join('');
  return layout(
    'Billing portal',
    `<h1>Billing</h1><p>${escape(customer.email ?? customer.id)}</p>
${blocks || '<p>No active subscription.</p>'}
${portal.return_url ? `<p><a href="${escape(portal.return_url)}">Return to the app</a></p>` : ''}`,
  );
}

export function invoicePage(invoice: Json): string {
  return layout(
    'Invoice',
    `<h1>Invoice ${escape(invoice.number)}</h1>
<p>Status: <b>${escape(invoice.status)}</b>. Amount due ${usd(invoice.amount_due)}, paid ${usd(invoice.amount_paid)}.</p>
<table>${(invoice.lines?.data ?? []).map((l: Json) => `<tr><td>${escape(l.description)}</td><td>${usd(l.amount)}</td></tr>`).join('')}</table>`,
  );
}

export function notFoundPage(what: string): string {
  return layout('Not found', `<h1>Not found</h1><p>${escape(what)}</p>`);
}

/** Answers a page's GET; false when the path is no page. */
export function servePage(res: ServerResponse, pathname: string, state: StripeState): boolean {
  const checkout = /^\/checkout\/([^/]+)$/.exec(pathname);
  const portal = /^\/billing_portal\/([^/]+)$/.exec(pathname);
  const invoice = /^\/invoice\/([^/]+)$/.exec(pathname);
  try {
    if (checkout) {
      const session = state.checkoutSession(decodeURIComponent(checkout[1] as string));
      const rendered = renderCheckoutSession(state, session.id);
      const email = session.customerEmail ?? (session.customer ? state.customer(session.customer).email : null);
      sendHtml(res, 200, checkoutPage({ ...rendered, url: undefined }, renderCheckoutLineItems(state, session.id), email));
      return true;
    }
    if (portal) {
      const session = state.portalSession(decodeURIComponent(portal[1] as string));
      const tiers = (['basic', 'pro', 'enterprise'] as const).map((tier) => ({ tier, name: tier[0]!.toUpperCase() + tier.slice(1), price: PRICE_IDS[tier] }));
      sendHtml(
        res,
        200,
        portalPage(
          renderPortalSession(state, session.id),
          renderCustomer(state, session.customer),
          state.subscriptionsOf(session.customer).map((s) => renderSubscription(state, s.id)),
          tiers,
        ),
      );
      return true;
    }
    if (invoice) {
      sendHtml(res, 200, invoicePage(renderInvoice(state, decodeURIComponent(invoice[1] as string))));
      return true;
    }
  } catch (err) {
    if (err instanceof StripeApiError) {
      sendHtml(res, 404, notFoundPage(err.message));
      return true;
    }
    throw err;
  }
  return false;
}
