export {
  createEntitlementsClient,
  type AddTokensRequest,
  type ConsumeRequest,
  DEFAULT_TIMEOUT_MS,
  type EntitlementsClient,
  type EntitlementsClientOptions,
  type FeatureCheck,
  type IdempotentAnswer,
  type Schemas,
  type SuccessBody,
  type WithOptionalKey,
} from './client';
export { EntitlementsApiError, EntitlementsConnectionError, type ApiErrorBody, type FailedRequest } from './errors';
export { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy } from './retry';
export type { components, operations, paths } from './generated/api';
