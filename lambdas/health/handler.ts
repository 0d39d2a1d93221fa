import { healthProbes } from '../../shared/wiring/health';
import { httpHandler, type HttpHandler } from '../../shared/http/handler';
import { errorBody, jsonResponse } from '../../shared/http/response';
import { checkHealth, type HealthDeps } from '../../shared/use-cases/check-health';

/** GET /v1/health (public): DynamoDB down is 503, Redis down is `degraded` (200). */
export function createHealthHandler(deps: HealthDeps): HttpHandler {
  return httpHandler(async () => {
    const report = await checkHealth(deps);
    const body = { status: report.status, checks: report.checks };
    if (report.httpStatus === 503) {
      return jsonResponse(503, { ...body, ...errorBody('dependency_unavailable', 'DynamoDB is unreachable') });
    }
    return jsonResponse(200, body);
  });
}

export const handler = createHealthHandler(healthProbes());
