import type { AwsConfig } from '../config';

/**
 * The settings every AWS client is built with. Each client is built in its
 * own file (DynamoDB and Secrets Manager in clients.ts, the others in their
 * adapter's folder, client.ts), so a function bundles, and requires at cold
 * start, only the SDK packages it uses: an import of an unused client is
 * still evaluated at module load (tens of ms each, whether the SDK is bundled
 * or taken from the runtime).
 *
 * Every client gets the same bounds (AWS_CONNECT_TIMEOUT_MS,
 * AWS_REQUEST_TIMEOUT_MS, AWS_MAX_ATTEMPTS), so a hung dependency (a paused
 * process accepts the TCP connection and never answers) fails the call within
 * a few seconds instead of holding the function until its own timeout, and the
 * error classifier turns the failure into a port-level DependencyUnavailable.
 */
export function awsClientSettings(aws: AwsConfig) {
  return {
    region: aws.AWS_REGION,
    maxAttempts: aws.AWS_MAX_ATTEMPTS,
    // The NodeHttpHandler's options, given as an object (the client builds the handler):
    // requestTimeout only warns unless throwOnRequestTimeout is set (@smithy/node-http-handler 4.x).
    requestHandler: {
      connectionTimeout: aws.AWS_CONNECT_TIMEOUT_MS,
      requestTimeout: aws.AWS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
}
