import { loadConfig, tierSettings, tiersSection } from '../../shared/config';
import { buildTierCatalogue, publicTier } from '../../shared/domain/tiers';
import { NotFoundError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';

const config = loadConfig({ tiers: tiersSection });
const catalogue = buildTierCatalogue(tierSettings(config.tiers));
const tiersBody = { tiers: catalogue.map(publicTier) };

export const handler = httpHandler(async (event) => {
  switch (routeKey(event)) {
    case 'GET /v1/tiers':
      return jsonResponse(200, tiersBody, { 'Cache-Control': 'public, max-age=60' });
    default:
      throw new NotFoundError('No route for this method and path');
  }
});
