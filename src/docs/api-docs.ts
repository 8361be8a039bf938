import { readFileSync } from 'node:fs';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ProblemDetailsDto } from '../common/http/problem-details.dto';
import type { AppConfig } from '../config/configuration';
import { documentClosedRequestBodies } from '../common/http/validation.pipe';
import { documentHttpSecurity } from './openapi-security';
import { SERVICE_NAME, SERVICE_VERSION } from '../service-info';

export const DOCS_PATH = 'docs';
export const REDOC_PATH = '/redoc';

const REDOC_CDN_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const EMPTY_IMAGE = 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E';

export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Organization Management Service')
    .setDescription(
      [
        'Create an organization with its first admin, log in as that admin, and read, rename or delete the organization.',
        'Every organization has its own MongoDB database (`org_<slug>`).',
        '',
        'Errors are `application/problem+json` (RFC 9457) with a stable `code` and the `request_id`',
        'that every response also carries in `X-Request-Id`.',
      ].join('\n'),
    )
    .setVersion(SERVICE_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  return documentClosedRequestBodies(
    documentHttpSecurity(
      SwaggerModule.createDocument(app, config, { extraModels: [ProblemDetailsDto] }),
    ),
  );
}

/**
 * Swagger UI at /docs, the OpenAPI JSON at /docs-json and ReDoc at /redoc,
 * all served from installed packages so the docs work without a CDN.
 */
export function setUpApiDocs(
  app: NestFastifyApplication,
  config: Pick<AppConfig, 'isProduction'>,
): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup(DOCS_PATH, app, document, {
    jsonDocumentUrl: `${DOCS_PATH}-json`,
    customSiteTitle: `${SERVICE_NAME} API`,
    // Persisting keeps the bearer token in the browser's localStorage, where it
    // outlives a logout and is readable by any script on the origin: a
    // convenience for development only.
    swaggerOptions: { persistAuthorization: !config.isProduction },
  });

  // ReDoc's sidebar footer loads Redocly's logo from its CDN, which the docs'
  // CSP (img-src 'self' data:) refuses with an error in every visitor's
  // console; an empty image takes its place (npm run docs:browser checks).
  const redocBundle = readFileSync(
    require.resolve('redoc/bundles/redoc.standalone.js'),
    'utf8',
  ).replace(REDOC_CDN_LOGO, EMPTY_IMAGE);
  const redocPage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${SERVICE_NAME} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/${DOCS_PATH}-json"></redoc>
<script src="${REDOC_PATH}/redoc.standalone.js"></script></body></html>`;
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get(REDOC_PATH, (_req, reply) => {
    void reply.type('text/html; charset=utf-8').send(redocPage);
  });
  fastify.get(`${REDOC_PATH}/redoc.standalone.js`, (_req, reply) => {
    void reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(redocBundle);
  });
}
