import { assessHealth } from '../../shared/domain/health';

describe('assessHealth', () => {
  it('is ok when both answer', () => {
    expect(assessHealth({ dynamodb: 'ok', redis: 'ok' })).toMatchObject({ status: 'ok', httpStatus: 200 });
  });
  it('is degraded, still 200, without the cache', () => {
    expect(assessHealth({ dynamodb: 'ok', redis: 'down' })).toMatchObject({ status: 'degraded', httpStatus: 200 });
    expect(assessHealth({ dynamodb: 'ok', redis: 'disabled' })).toMatchObject({ status: 'degraded', httpStatus: 200 });
  });
  it('is 503 without DynamoDB, whatever Redis says', () => {
    expect(assessHealth({ dynamodb: 'down', redis: 'ok' })).toMatchObject({ status: 'down', httpStatus: 503 });
  });
});
