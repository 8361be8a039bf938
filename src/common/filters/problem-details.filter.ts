import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describeError, PROBLEM_CONTENT_TYPE, toProblem } from '../http/problem';

const logger = new Logger('ProblemDetails');

/**
 * Writes any error as `application/problem+json`. Used both as Nest's global
 * filter and as Fastify's error handler (for errors raised before Nest routes
 * the request, such as body parsing), so every error leaves by one path.
 */
export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const shape = describeError(error);
  const instance = (request.url ?? '/').split('?')[0];
  const problem = toProblem(shape, instance, String(request.id));
  if (shape.unexpected) {
    logger.error(
      { err: error, request_id: problem.request_id, path: instance },
      'Unhandled error answered with 500',
    );
  }
  if (reply.sent) return;
  if (shape.headers) void reply.headers(shape.headers);
  void reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
  }
}
