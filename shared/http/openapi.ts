import * as z from 'zod';
import type { RouteAuth, RouteDefinition } from '../routes';
import type { NamedSchema, RouteSchemas } from './route-schemas';
import { errorResponse } from './schemas';

/**
 * Builds the OpenAPI 3.1 document from the route manifest and the zod
 * schemas the handlers validate with. Pure: no I/O, same input, same output.
 * Served by the local gateway at /openapi.json (and by Swagger UI at /docs,
 * infra/local/docs.ts), and written by `npm run openapi`.
 */

export type JsonSchema = Record<string, unknown>;
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  jsonSchemaDialect: string;
  servers?: { url: string; description?: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema>; responses: Record<string, JsonSchema> };
}
export interface OpenApiOperation {
  operationId: string;
  summary: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
  'x-handler': string;
}

export const ERROR_SCHEMA_NAME = 'Error';

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: `validation_failed`, `invalid_json` or `unsupported_media_type` (the message names the field)',
  401: '`unauthorized`: missing or invalid credentials',
  402: '`insufficient_tokens`, with `remaining`; for a metered feature `feature_limit_reached`, with `feature` and `remaining`',
  403: '`forbidden`',
  404: '`not_found` (or a more specific code)',
  409: '`conflict`',
  413: '`payload_too_large`',
  429: '`rate_limited`, with a `Retry-After` header',
  500: '`internal_error` (generic message; the `x-request-id` header identifies it in the logs)',
  503: '`dependency_unavailable`; retry later',
};

/** Security scheme names in `components.securitySchemes`, by route auth. */
const SECURITY: Record<RouteAuth, string | undefined> = {
  none: undefined,
  cognito: 'CognitoAccessToken',
  'api-key': 'InternalApiKey',
  'stripe-signature': 'StripeSignature',
  // Ko-fi's token travels inside the form's `data` JSON: no header or query scheme can describe it.
  'kofi-token': undefined,
};

const SECURITY_SCHEMES: Record<string, JsonSchema> = {
  CognitoAccessToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A Cognito user pool access token (not an id token); the user id comes only from its `sub`.',
  },
  InternalApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Internal API key of an app backend, checked in constant time.' },
  StripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature', description: 'Stripe webhook signature over the raw body (5-minute tolerance).' },
};

/** Path parameter names of a template, in order: `/v1/users/{userId}/tier` -> [userId]. */
export function pathParams(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string);
}

/** A zod schema as a JSON Schema 2020-12 object (the dialect of OpenAPI 3.1). */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, reused: 'inline', unrepresentable: 'any' }) as JsonSchema;
  return json;
}

function operationId(route: RouteDefinition): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((seg) => seg.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')));
  return [route.method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}

export const routeSchemaKey = (route: Pick<RouteDefinition, 'method' | 'path'>): string => `${route.method} ${route.path}`;

export function buildOpenApiDocument(
  routes: readonly RouteDefinition[],
  registry: Record<string, RouteSchemas>,
  options: { title?: string; version?: string; servers?: { url: string; description?: string }[] } = {},
): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { [ERROR_SCHEMA_NAME]: jsonSchemaOf(errorResponse, 'output') };
  const owners = new Map<string, z.ZodType>([[ERROR_SCHEMA_NAME, errorResponse]]);
  const ref = (named: NamedSchema, io: 'input' | 'output'): JsonSchema => {
    const owner = owners.get(named.name);
    if (owner && owner !== named.schema) throw new Error(`Two schemas are named ${named.name}`);
    if (!owner) {
      owners.set(named.name, named.schema);
      schemas[named.name] = jsonSchemaOf(named.schema, io);
    }
    return { $ref: `#/components/schemas/${named.name}` };
  };

  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const key = routeSchemaKey(route);
    const entry = registry[key];
    if (!entry) throw new Error(`No schemas registered for ${key} (shared/http/route-schemas.ts)`);
    const scheme = SECURITY[route.auth];

    const parameters: JsonSchema[] = [];
    const pathShape = (entry.path?.shape ?? {}) as Record<string, z.ZodType>;
    for (const name of pathParams(route.path)) {
      const schema = pathShape[name];
      parameters.push({ name, in: 'path', required: true, schema: schema ? jsonSchemaOf(schema, 'input') : { type: 'string' } });
    }
    const queryShape = (entry.query?.shape ?? {}) as Record<string, z.ZodType>;
    for (const [name, schema] of Object.entries(queryShape)) {
      parameters.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: jsonSchemaOf(schema, 'input') });
    }

    const responses: Record<string, JsonSchema> = {};
    for (const [status, body] of Object.entries(entry.responses)) {
      if (!body) continue;
      responses[status] = { description: body.description, content: { 'application/json': { schema: ref(body, 'output') } } };
    }
    for (const [status, body] of Object.entries(entry.errors)) {
      if (!body) continue;
      const description = STATUS_TEXT[Number(status)] ?? 'Error';
      responses[status] =
        body === true
          ? { $ref: `#/components/responses/Error${status}` }
          : { description, content: { 'application/json': { schema: ref(body, 'output') } } };
    }

    const operation: OpenApiOperation = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.handler],
      security: scheme ? [{ [scheme]: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(entry.body
        ? {
            requestBody: {
              required: true,
              ...(entry.body.description ? { description: entry.body.description } : {}),
              content: {
                [entry.body.contentType ?? 'application/json']: {
                  schema: ref(entry.body, 'input'),
                  ...(entry.example?.body !== undefined ? { example: entry.example.body } : {}),
                },
              },
            },
          }
        : {}),
      responses,
      'x-handler': route.handler,
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }

  const usedStatuses = new Set(Object.values(registry).flatMap((e) => Object.entries(e.errors).filter(([, b]) => b === true).map(([s]) => Number(s))));
  const responses: Record<string, JsonSchema> = {};
  for (const status of [...usedStatuses].sort((a, b) => a - b)) {
    responses[`Error${status}`] = {
      description: STATUS_TEXT[status] ?? 'Error',
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` } } },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Entitlements API',
      version: options.version ?? '0.1.0',
      description:
        'Generated from shared/routes.ts and the zod schemas in shared/http/schemas.ts. Every error is `{"error": {"code", "message"}}`; ' +
        'any route can also answer 404/405 (unknown route or method) and 413 (over 10 MB) from the gateway.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    ...(options.servers ? { servers: options.servers } : {}),
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES, responses },
  };
}
