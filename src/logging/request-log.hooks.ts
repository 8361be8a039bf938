import { Injectable } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { requestLogFields, requestLogLevel, requestLogMessage } from './request-log';
import { runInRequestLogScope } from './request-log-context';
import { ServiceLoggers } from './service-loggers';

/**
 * Request logging as Fastify hooks, registered by the app set-up: no
 * middleware layer, and nothing built per request beyond the log scope and
 * the line itself.
 *
 * - onRequest binds the request's log scope, so every line logged while
 *   handling it carries its id;
 * - onResponse writes the request line once the response is sent;
 * - a response that never completes (the client went away) never reaches
 *   onResponse, so its line is written when the connection closes, with
 *   `aborted: true`.
 */
@Injectable()
export class RequestLogHooks {
  private readonly lines: Logger;

  constructor(loggers: ServiceLoggers) {
    this.lines = loggers.requests;
  }

  register(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) this.write(request, reply, true);
      });
      runInRequestLogScope(request.id, done);
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      this.write(request, reply, false);
      done();
    });
  }

  private write(request: FastifyRequest, reply: FastifyReply, aborted: boolean): void {
    const level = requestLogLevel(request.routeOptions.url, reply.statusCode);
    if (!this.lines.isLevelEnabled(level)) return;
    this.lines[level](requestLogFields(request, reply, aborted), requestLogMessage(request, reply));
  }
}
