/** Billing portal sessions. */
import type { StripeState } from '../state';
import type { Json } from '../state/records';

export function renderPortalSession(state: StripeState, id: string): Json {
  const s = state.portalSession(id);
  return {
    id: s.id,
    object: 'billing_portal.session',
    configuration: 'bpc_local_default',
    created: s.created,
    customer: s.customer,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: s.returnUrl,
    url: `${state.baseUrl()}/billing_portal/${s.id}`,
  };
}
