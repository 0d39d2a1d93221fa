import { encodeStripeForm, FormParseError, parseKeyPath, parseStripeForm } from '../../infra/local/stripe/form';

describe('Stripe form bodies', () => {
  it('splits bracket keys into a path', () => {
    expect(parseKeyPath('email')).toEqual(['email']);
    expect(parseKeyPath('line_items[0][price]')).toEqual(['line_items', '0', 'price']);
    expect(parseKeyPath('expand[]')).toEqual(['expand', '']);
    expect(() => parseKeyPath('[0]')).toThrow(FormParseError);
    expect(() => parseKeyPath('a[b')).toThrow(FormParseError);
  });

  it('nests objects and indexed arrays the way stripe-node encodes them', () => {
    // What stripe-node sends for checkout.sessions.create(...): indexed arrays, brackets left unescaped.
    const body =
      'mode=subscription&customer=cus_1&line_items[0][price]=price_pro_monthly&line_items[0][quantity]=1' +
      '&metadata[userId]=u-1&subscription_data[metadata][userId]=u-1&expand[0]=customer&expand[1]=line_items' +
      '&success_url=http%3A%2F%2Flocalhost%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D';
    expect(parseStripeForm(body)).toEqual({
      mode: 'subscription',
      customer: 'cus_1',
      line_items: [{ price: 'price_pro_monthly', quantity: '1' }],
      metadata: { userId: 'u-1' },
      subscription_data: { metadata: { userId: 'u-1' } },
      expand: ['customer', 'line_items'],
      success_url: 'http://localhost/ok?s={CHECKOUT_SESSION_ID}',
    });
  });

  it('accepts escaped brackets, [] pushes and + for spaces', () => {
    expect(parseStripeForm('expand%5B%5D=a&expand%5B%5D=b&name=Ada+Lovelace&metadata%5Bk%5D=v%20w')).toEqual({
      expand: ['a', 'b'],
      name: 'Ada Lovelace',
      metadata: { k: 'v w' },
    });
  });

  it('keeps empty values (stripe-node sends null as ""), which unset fields', () => {
    expect(parseStripeForm('description=&metadata[plan]=')).toEqual({ description: '', metadata: { plan: '' } });
    expect(parseStripeForm('')).toEqual({});
  });

  it('compacts sparse indexes in order', () => {
    expect(parseStripeForm('items[2][price]=b&items[0][price]=a')).toEqual({ items: [{ price: 'a' }, { price: 'b' }] });
  });

  it('refuses conflicting shapes, prototype keys, huge indexes and bad escapes', () => {
    for (const body of ['a=1&a[b]=2', 'a[b]=1&a=2', 'a[0]=1&a[b]=2', '__proto__[x]=1', 'a[constructor]=1', 'a[5000]=1', 'a=%E0%A4%A']) {
      expect(() => parseStripeForm(body)).toThrow(FormParseError);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('round-trips through its encoder', () => {
    const data = { customer: 'cus_1', items: [{ price: 'p1', quantity: 2 }], metadata: { a: 'x&y=z', b: '' }, expand: ['latest_invoice'], flag: true };
    const encoded = encodeStripeForm(data);
    expect(encoded).toContain('items[0][price]=p1');
    expect(parseStripeForm(encoded)).toEqual({ customer: 'cus_1', items: [{ price: 'p1', quantity: '2' }], metadata: { a: 'x&y=z', b: '' }, expand: ['latest_invoice'], flag: 'true' });
  });
});
