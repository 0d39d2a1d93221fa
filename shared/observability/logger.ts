import { Logger } from '@aws-lambda-powertools/logger';
import { installLazySourceMaps } from './stack-traces';

// Every function loads this module: its bundle's stack traces read as TypeScript from here on (NODE_OPTIONS has no --enable-source-maps).
installLazySourceMaps();

/**
 * The one logger. Structured JSON; the handler wrapper appends the request id.
 * Never log secrets, tokens or raw emails (use `maskEmail`).
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'entitlements',
});

/** `alice@example.com` -> `a***@example.com`: enough to correlate, not to identify. */
export function maskEmail(email: string): string {
  const at = email.indexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}
