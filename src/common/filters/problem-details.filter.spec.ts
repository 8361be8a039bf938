import { Logger, NotFoundException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MongoServerError } from 'mongodb';
import { DomainError, tooManyRequests } from '../errors/domain.error';
import { ErrorCode } from '../errors/error-codes';
import { PROBLEM_CONTENT_TYPE } from '../http/problem';
import { ProblemDetailsFilter, sendProblem } from './problem-details.filter';

/** The part of a Fastify reply the filter uses, recording what was sent. */
class RecordingReply {
  sent = false;
  statusCode = 200;
  readonly headerValues: Record<string, string> = {};
  body: unknown;
  sends = 0;

  status(code: number) {
    this.statusCode = code;
    return this;
  }

  header(name: string, value: string) {
    this.headerValues[name.toLowerCase()] = value;
    return this;
  }

  headers(values: Record<string, string>) {
    for (const [name, value] of Object.entries(values)) this.header(name, value);
    return this;
  }

  send(body: unknown) {
    this.body = body;
    this.sends += 1;
    this.sent = true;
    return this;
  }
}

const requestFor = (url: string | undefined, id = 'req-42') =>
  ({ url, id, method: 'POST' }) as unknown as FastifyRequest;

describe('ProblemDetailsFilter', () => {
  let reply: RecordingReply;
  let logError: jest.SpyInstance;

  const hostFor = (request: FastifyRequest) => new ExecutionContextHost([request, reply]);

  beforeEach(() => {
    reply = new RecordingReply();
    logError = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => logError.mockRestore());

  it('answers a domain error as application/problem+json with the full body', () => {
    new ProblemDetailsFilter().catch(
      new DomainError(ErrorCode.ORG_NOT_FOUND, 'No organization is named "Acme".'),
      hostFor(requestFor('/org/get?organization_name=Acme')),
    );
    expect(reply.statusCode).toBe(404);
    expect(reply.headerValues['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(reply.body).toEqual({
      type: 'urn:problem-type:org-not-found',
      title: 'Organization not found',
      status: 404,
      detail: 'No organization is named "Acme".',
      instance: '/org/get',
      code: 'ORG_NOT_FOUND',
      request_id: 'req-42',
    });
    expect(logError).not.toHaveBeenCalled();
  });

  it('never puts the query string into instance', () => {
    new ProblemDetailsFilter().catch(
      new NotFoundException('Not found'),
      hostFor(requestFor('/org/get?token=secret&x=1')),
    );
    expect((reply.body as { instance: string }).instance).toBe('/org/get');
  });

  it('uses / as instance when the request has no URL', () => {
    sendProblem(new NotFoundException(), requestFor(undefined), reply as unknown as FastifyReply);
    expect((reply.body as { instance: string }).instance).toBe('/');
  });

  it('reports the request id as a string', () => {
    const request = { url: '/x', id: 7 } as unknown as FastifyRequest;
    sendProblem(new NotFoundException(), request, reply as unknown as FastifyReply);
    expect((reply.body as { request_id: unknown }).request_id).toBe('7');
  });

  it('lists the field errors of a validation failure', () => {
    const errors = [
      { field: 'email', message: 'email must be an email' },
      { field: 'password', message: 'password must be longer than or equal to 12 characters' },
    ];
    new ProblemDetailsFilter().catch(
      new DomainError(ErrorCode.VALIDATION_FAILED, '2 fields are invalid.', errors),
      hostFor(requestFor('/org/create')),
    );
    expect(reply.statusCode).toBe(400);
    expect(reply.body).toMatchObject({ code: 'VALIDATION_FAILED', errors });
  });

  it('sets the headers an error carries, such as Retry-After', () => {
    new ProblemDetailsFilter().catch(
      tooManyRequests('Too many login attempts.', 2.5),
      hostFor(requestFor('/admin/login')),
    );
    expect(reply.statusCode).toBe(429);
    expect(reply.headerValues['retry-after']).toBe('3');
    expect(reply.headerValues['content-type']).toBe(PROBLEM_CONTENT_TYPE);
  });

  it('sets no extra headers for an error that carries none', () => {
    new ProblemDetailsFilter().catch(new NotFoundException(), hostFor(requestFor('/x')));
    expect(Object.keys(reply.headerValues)).toEqual(['content-type']);
  });

  it('answers a duplicate key with 409 without echoing the key, and does not log it', () => {
    const error = new MongoServerError({
      message: 'E11000 duplicate key error dup key: { email: "ceo@rival.example" }',
      code: 11000,
    });
    new ProblemDetailsFilter().catch(error, hostFor(requestFor('/org/create')));
    expect(reply.statusCode).toBe(409);
    expect(JSON.stringify(reply.body)).not.toContain('rival');
    expect(logError).not.toHaveBeenCalled();
  });

  describe('an unknown error', () => {
    const internal = new TypeError(
      "Cannot read properties of undefined (reading 'slug') at mongodb://admin:hunter2@10.0.0.7",
    );

    it('becomes a generic 500 that echoes nothing of it', () => {
      new ProblemDetailsFilter().catch(internal, hostFor(requestFor('/org/create?debug=1')));
      expect(reply.statusCode).toBe(500);
      expect(reply.headerValues['content-type']).toBe(PROBLEM_CONTENT_TYPE);
      expect(reply.body).toEqual({
        type: 'urn:problem-type:internal-error',
        title: 'Internal server error',
        status: 500,
        detail: 'An unexpected error occurred.',
        instance: '/org/create',
        code: 'INTERNAL_ERROR',
        request_id: 'req-42',
      });
      const body = JSON.stringify(reply.body);
      for (const leak of ['slug', 'hunter2', '10.0.0.7', 'TypeError', 'debug'])
        expect(body).not.toContain(leak);
    });

    it('is logged once with the error, the request id and the path', () => {
      new ProblemDetailsFilter().catch(internal, hostFor(requestFor('/org/create?debug=1')));
      expect(logError).toHaveBeenCalledTimes(1);
      expect(logError).toHaveBeenCalledWith(
        { err: internal, request_id: 'req-42', path: '/org/create' },
        'Unhandled error answered with 500',
      );
    });

    it('is still logged when the reply already went out, and nothing more is sent', () => {
      reply.sent = true;
      sendProblem(internal, requestFor('/org/create'), reply as unknown as FastifyReply);
      expect(logError).toHaveBeenCalledTimes(1);
      expect(reply.sends).toBe(0);
      expect(reply.statusCode).toBe(200);
      expect(reply.headerValues).toEqual({});
    });
  });

  it('sends nothing for a known error once the reply went out', () => {
    reply.sent = true;
    sendProblem(
      tooManyRequests('Slow down.', 1),
      requestFor('/x'),
      reply as unknown as FastifyReply,
    );
    expect(reply.sends).toBe(0);
    expect(reply.headerValues).toEqual({});
    expect(logError).not.toHaveBeenCalled();
  });
});
