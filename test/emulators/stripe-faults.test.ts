import { shuffleDifferent, WebhookDelivery } from '../../infra/local/stripe/delivery';
import { FaultInjector } from '../../infra/local/http';

describe('fault injection', () => {
  it('fails the next N matching requests, then stops', () => {
    const faults = new FaultInjector();
    faults.add({ method: 'post', path: '^/v1/customers$', status: 500, count: 2 });
    expect(faults.take('GET', '/v1/customers')).toBeUndefined();
    expect(faults.take('POST', '/v1/customers/cus_1')).toBeUndefined();
    expect(faults.take('POST', '/v1/customers')).toMatchObject({ status: 500, remaining: 1 });
    expect(faults.take('POST', '/v1/customers')).toMatchObject({ status: 500, remaining: 0 });
    expect(faults.take('POST', '/v1/customers')).toBeUndefined();
    expect(faults.list()).toEqual([]);
  });

  it('matches any method with * and keeps the order faults were armed in', () => {
    const faults = new FaultInjector();
    faults.add({ path: '/v1/subscriptions', status: 'hang', hangMs: 10 });
    faults.add({ method: '*', path: '/v1/', status: 503 });
    expect(faults.take('DELETE', '/v1/subscriptions/sub_1')).toMatchObject({ status: 'hang', hangMs: 10 });
    expect(faults.take('GET', '/v1/subscriptions/sub_1')).toMatchObject({ status: 503 });
    expect(faults.reset()).toBe(0);
  });

  it('says which field of a fault is wrong', () => {
    const faults = new FaultInjector();
    expect(() => faults.add({ path: '(', status: 500 })).toThrow(/path/);
    expect(() => faults.add({ path: '/v1', status: 418 as 500 })).toThrow(/status/);
    expect(() => faults.add({ path: '/v1', status: 500, count: 0 })).toThrow(/count/);
    expect(() => faults.add({ path: '', status: 500 })).toThrow(/path/);
  });
});

describe('webhook delivery switches', () => {
  it('shuffles into an order that always differs from the original', () => {
    const items = ['a', 'b', 'c', 'd'];
    expect(shuffleDifferent(items, () => 0.999)).not.toEqual(items);
    for (let i = 0; i < 50; i++) {
      const out = shuffleDifferent(items);
      expect(out).not.toEqual(items);
      expect([...out].sort()).toEqual(items);
    }
    expect(shuffleDifferent(['x'])).toEqual(['x']);
  });

  it('changes only the switches given and refuses a negative delay', () => {
    const delivery = new WebhookDelivery({ url: 'http://127.0.0.1:9/unused', secret: 'whsec_x' });
    expect(delivery.configure({ duplicate: true })).toEqual({ duplicate: true, delayMs: 0, reorder: false, paused: false, drop: false, dropCustomers: [] });
    expect(delivery.configure({ delayMs: 25, paused: undefined })).toEqual({ duplicate: true, delayMs: 25, reorder: false, paused: false, drop: false, dropCustomers: [] });
    expect(() => delivery.configure({ delayMs: -1 })).toThrow(/delayMs/);
    delivery.stop();
  });
});
