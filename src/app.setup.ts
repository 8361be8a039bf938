import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { fastifyTrustProxy } from './bootstrap/trust-proxy';
import { ProblemDetailsFilter } from './common/filters/problem-details.filter';
import { REQUEST_ID_HEADER, requestIdFor } from './common/http/request-id';
import { createValidationPipe } from './common/http/validation.pipe';
import { appConfig, processConfig, type AppConfig } from './config/configuration';
import { setUpApiDocs } from './docs/api-docs';
import { AppLogger } from './logging/app-logger.service';
import { RequestLogHooks } from './logging/request-log.hooks';
import {
  answerFrameworkError,
  applyHttpSecurity,
  RATE_LIMIT_RESPONSE_HEADERS,
} from './http-hardening/http-hardening';
import { writeClientErrorProblem } from './http-hardening/request-hardening';

/** The service's own body limit; NGINX's client_max_body_size is aligned with it. */
export const BODY_LIMIT_BYTES = 100 * 1024;

/** `config`: the application's settings when they are not the process's (a test's overrides). */
export function createFastifyAdapter(
  config: Pick<AppConfig, 'trustProxy'> = processConfig().app,
): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // TRUST_PROXY: see bootstrap/trust-proxy.ts (hop counts, peer check).
    trustProxy: fastifyTrustProxy(config.trustProxy),
    genReqId: requestIdFor,
    // Requests Node rejects before Fastify sees them (oversized headers, a broken request line).
    clientErrorHandler: writeClientErrorProblem,
    // URLs the router cannot decode, answered like every other error.
    frameworkErrors: answerFrameworkError,
    // Requests are logged by RequestLogHooks with the service's fields; Fastify's own logger stays off.
    logger: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  });
}

/**
 * Everything that makes an application instance this service: used by
 * main.ts, the e2e tests and the benchmark alike, so they all run the same
 * pipeline.
 */
export function configureApp(app: NestFastifyApplication): NestFastifyApplication {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(app.get(AppLogger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());
  // No app.enableShutdownHooks(): main.ts owns the signals (bounded drain, exit 0),
  // see bootstrap/graceful-shutdown.ts.
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins,
      exposedHeaders: [REQUEST_ID_HEADER, 'Retry-After', 'ETag', ...RATE_LIMIT_RESPONSE_HEADERS],
    });
  }

  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: a text/plain body gets 415 instead of reaching a DTO as a string.
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.get(RequestLogHooks).register(fastify);

  applyHttpSecurity(app);
  setUpApiDocs(app, config);
  return app;
}
