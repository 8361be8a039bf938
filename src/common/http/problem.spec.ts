import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  InternalServerErrorException,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { errorCodes } from 'fastify';
import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { Error as MongooseError } from 'mongoose';
import { DomainError, orgNotFound, tooManyRequests } from '../errors/domain.error';
import { ERROR_STATUS, ErrorCode } from '../errors/error-codes';
import { describeError, toProblem } from './problem';

/**
 * Fastify errors reach the filter two ways: raw, from the handlers Fastify
 * calls directly (`frameworkErrors`), and as Nest's adapter rewrites them
 * before its exception layer runs. Both are built with the real classes.
 */
const nestAdapter = new FastifyAdapter();
const asNestDeliversIt = (error: Error): unknown => nestAdapter.mapException(error);

type TopologyReason = ConstructorParameters<typeof MongoServerSelectionError>[1];

/** What Fastify's JSON body parser hands on for a body that does not parse. */
function jsonParseError(): SyntaxError {
  let error!: SyntaxError;
  try {
    JSON.parse('{"organization_name":');
  } catch (e) {
    error = e as SyntaxError;
  }
  return Object.assign(error, { statusCode: 400 });
}

describe('describeError', () => {
  describe('domain errors', () => {
    it.each(Object.values(ErrorCode))('maps %s to its own status, keeping the message', (code) => {
      const shape = describeError(new DomainError(code, 'Said to the client.'));
      expect(shape).toEqual({
        code,
        status: ERROR_STATUS[code].status,
        detail: 'Said to the client.',
        errors: undefined,
        headers: undefined,
      });
    });

    it.each([
      [ErrorCode.VALIDATION_FAILED, 400],
      [ErrorCode.INVALID_CREDENTIALS, 401],
      [ErrorCode.WRONG_PASSWORD, 403],
      [ErrorCode.ORG_NOT_FOUND, 404],
      [ErrorCode.ORG_NAME_TAKEN, 409],
      [ErrorCode.IDEMPOTENCY_KEY_REUSED, 422],
      [ErrorCode.TOO_MANY_REQUESTS, 429],
      [ErrorCode.WRITE_OUTCOME_UNKNOWN, 503],
    ])('answers %s with %i', (code, status) => {
      expect(describeError(new DomainError(code, 'x')).status).toBe(status);
    });

    it('carries field errors and headers through', () => {
      const errors = [{ field: 'email', message: 'email must be an email' }];
      const error = new DomainError(ErrorCode.VALIDATION_FAILED, 'email must be an email', errors, {
        'retry-after': '3',
      });
      expect(describeError(error)).toMatchObject({ errors, headers: { 'retry-after': '3' } });
    });

    it('never marks a domain error as unexpected, even a 5xx one', () => {
      expect(
        describeError(new DomainError(ErrorCode.INTERNAL_ERROR, 'x')).unexpected,
      ).toBeUndefined();
    });

    it('names the organization only when the caller gave the name', () => {
      expect(describeError(orgNotFound()).detail).toBe('Organization not found.');
      expect(describeError(orgNotFound('Acme')).detail).toBe('No organization is named "Acme".');
    });

    it.each([
      [0.2, '1'],
      [0, '1'],
      [1, '1'],
      [1.01, '2'],
      [59.5, '60'],
    ])('rounds a wait of %d s up to a Retry-After of %s', (seconds, header) => {
      expect(describeError(tooManyRequests('Slow down.', seconds)).headers).toEqual({
        'retry-after': header,
      });
    });
  });

  describe("Nest's HTTP exceptions", () => {
    it.each([
      [new BadRequestException('Bad id.'), 400, ErrorCode.MALFORMED_REQUEST],
      [new UnauthorizedException(), 401, ErrorCode.UNAUTHORIZED],
      [new ForbiddenException(), 403, ErrorCode.FORBIDDEN],
      [new NotFoundException('Cannot GET /nope'), 404, ErrorCode.NOT_FOUND],
      [new HttpException('Method Not Allowed', 405), 405, ErrorCode.METHOD_NOT_ALLOWED],
      [new ConflictException(), 409, ErrorCode.CONFLICT],
      [new PayloadTooLargeException(), 413, ErrorCode.PAYLOAD_TOO_LARGE],
      [new HttpException('Unsupported Media Type', 415), 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE],
      [new HttpException('ThrottlerException', 429), 429, ErrorCode.TOO_MANY_REQUESTS],
      [new ServiceUnavailableException(), 503, ErrorCode.SERVICE_UNAVAILABLE],
    ])('maps %p to %i %s', (error, status, code) => {
      expect(describeError(error)).toMatchObject({ status, code });
    });

    it('answers the unknown-route 404 with the message Nest gives it', () => {
      expect(describeError(new NotFoundException('Cannot GET /nope'))).toEqual({
        code: ErrorCode.NOT_FOUND,
        status: 404,
        detail: 'Cannot GET /nope',
      });
    });

    it('takes the message from an object body', () => {
      expect(describeError(new BadRequestException('Not an ObjectId.')).detail).toBe(
        'Not an ObjectId.',
      );
    });

    it("falls back to the exception's message when the body has no string message", () => {
      const error = new BadRequestException(['first', 'second']);
      expect(describeError(error).detail).toBe(error.message);
    });

    it('maps an unlisted 4xx to MALFORMED_REQUEST with its own status', () => {
      expect(describeError(new HttpException("I'm a teapot", 418))).toEqual({
        code: ErrorCode.MALFORMED_REQUEST,
        status: 418,
        detail: "I'm a teapot",
      });
    });

    it.each([
      [new InternalServerErrorException('pool exhausted at 10.0.0.7'), 500],
      [new HttpException('upstream 10.0.0.7 refused', HttpStatus.BAD_GATEWAY), 502],
    ])('describes %p generically, without its message, and has it logged', (error, status) => {
      expect(describeError(error)).toEqual({
        code: ErrorCode.INTERNAL_ERROR,
        status,
        detail: 'Internal server error.',
        unexpected: true,
      });
    });

    it('describes a 503 exception generically too, as an outage rather than a fault to log', () => {
      const shape = describeError(new ServiceUnavailableException('replica 3 down'));
      expect(shape.detail).toBe('Service unavailable.');
      expect(shape.unexpected).toBeFalsy();
    });
  });

  describe("Fastify's request errors", () => {
    it.each([
      [new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 413, ErrorCode.PAYLOAD_TOO_LARGE],
      [new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE],
      [new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), 400, ErrorCode.MALFORMED_REQUEST],
      [new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), 400, ErrorCode.MALFORMED_REQUEST],
      [new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), 400, ErrorCode.MALFORMED_REQUEST],
      [new errorCodes.FST_ERR_BAD_URL('%E0'), 400, ErrorCode.MALFORMED_REQUEST],
    ])('maps %p to %i %s whether raw or rewritten by Nest', (error, status, code) => {
      expect(describeError(error)).toMatchObject({ status, code });
      expect(describeError(asNestDeliversIt(error))).toMatchObject({ status, code });
    });

    it.each([
      [new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 'The request body exceeds the 100 kB limit.'],
      [
        new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(),
        'Send the request body as application/json.',
      ],
      [
        new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(),
        'The request declares JSON but has an empty body.',
      ],
      [
        new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(),
        'The Content-Length header does not match the body.',
      ],
      [new errorCodes.FST_ERR_BAD_URL('%E0'), 'The request URL is malformed.'],
    ])('words %p in its own sentence, raw or rewritten by Nest', (error, detail) => {
      expect(describeError(error).detail).toBe(detail);
      expect(describeError(asNestDeliversIt(error)).detail).toBe(detail);
    });

    it('treats a raw Fastify 5xx (a fault in our own set-up) as unexpected', () => {
      const error = new errorCodes.FST_ERR_CTP_INVALID_TYPE();
      expect(describeError(error)).toMatchObject({
        code: ErrorCode.INTERNAL_ERROR,
        status: 500,
        unexpected: true,
      });
    });

    it('falls back to the title for a raw Fastify code it has no sentence for', () => {
      const error = Object.assign(new Error('x'), {
        code: 'FST_ERR_SOMETHING_NEW',
        statusCode: 415,
      });
      expect(describeError(error)).toEqual({
        code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        status: 415,
        detail: 'Unsupported media type.',
      });
    });

    it('maps a raw Fastify 4xx it has no code for to MALFORMED_REQUEST', () => {
      const error = Object.assign(new Error('x'), {
        code: 'FST_ERR_SOMETHING_NEW',
        statusCode: 422,
      });
      expect(describeError(error)).toMatchObject({
        code: ErrorCode.MALFORMED_REQUEST,
        status: 422,
      });
    });

    it('needs a numeric status to treat an FST_ code as a request error', () => {
      const error = Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
      expect(describeError(error)).toMatchObject({ status: 500, unexpected: true });
    });

    it('answers a body that is not JSON with 400 MALFORMED_REQUEST, raw or through Nest', () => {
      const expected = {
        code: ErrorCode.MALFORMED_REQUEST,
        status: 400,
        detail: 'The request body is not valid JSON.',
        errors: undefined,
      };
      expect(describeError(jsonParseError())).toEqual(expected);
      expect(describeError(asNestDeliversIt(jsonParseError()))).toEqual(expected);
    });

    it('treats a SyntaxError without a 400 status as a bug, not a client error', () => {
      expect(describeError(new SyntaxError('Unexpected token'))).toMatchObject({
        status: 500,
        unexpected: true,
      });
    });
  });

  describe('database errors', () => {
    const duplicate = () =>
      new MongoServerError({
        message:
          'E11000 duplicate key error collection: master.admins index: email_1 dup key: { email: "ceo@rival.example" }',
        code: 11000,
        keyValue: { email: 'ceo@rival.example' },
      });

    it('answers a duplicate key with 409 CONFLICT and never echoes the key', () => {
      const shape = describeError(duplicate());
      expect(shape).toEqual({
        code: ErrorCode.CONFLICT,
        status: 409,
        detail: 'The request conflicts with existing data.',
        errors: undefined,
      });
      expect(JSON.stringify(shape)).not.toContain('rival');
    });

    it("recognises FerretDB's duplicate on update (code 1, SQLite's message)", () => {
      const error = new MongoServerError({
        message: 'UNIQUE constraint failed: admins.email',
        code: 1,
      });
      expect(describeError(error)).toMatchObject({ code: ErrorCode.CONFLICT, status: 409 });
    });

    it('treats any other code-1 server error as unexpected', () => {
      const error = new MongoServerError({ message: 'disk I/O error', code: 1 });
      expect(describeError(error)).toMatchObject({ status: 500, unexpected: true });
    });

    it.each([
      [
        'MongoServerSelectionError',
        // The driver passes the topology it gave up on; only its `error` is read.
        () =>
          new MongoServerSelectionError('no primary', {
            error: undefined,
          } as unknown as TopologyReason),
      ],
      ['MongoNetworkError', () => new MongoNetworkError('connect ECONNREFUSED 10.0.0.7:27017')],
      ['MongoNotConnectedError', () => new MongoNotConnectedError('not connected')],
      ['MongoTopologyClosedError', () => new MongoTopologyClosedError()],
      [
        'MongooseServerSelectionError',
        () => new MongooseError.MongooseServerSelectionError('Server selection timed out'),
      ],
      ['MongoNetworkTimeoutError', () => new MongoNetworkTimeoutError('timed out')],
    ])('answers a %s with 503 and a retry hint, without its message', (_name, make) => {
      expect(describeError(make())).toEqual({
        code: ErrorCode.SERVICE_UNAVAILABLE,
        status: 503,
        detail: 'The database is temporarily unavailable; retry shortly.',
        errors: undefined,
      });
    });
  });

  describe('anything else', () => {
    it.each([
      ['an Error', new TypeError("Cannot read properties of undefined (reading 'slug')")],
      ['a string', 'boom'],
      ['null', null],
      ['undefined', undefined],
      ['a plain object', { message: 'secret internals', code: 'EINTERNAL' }],
      ['a non-Fastify status', Object.assign(new Error('x'), { statusCode: 400 })],
    ])('makes %s a generic, unexpected 500', (_what, error) => {
      const shape = describeError(error);
      expect(shape).toEqual({
        code: ErrorCode.INTERNAL_ERROR,
        status: 500,
        detail: 'An unexpected error occurred.',
        errors: undefined,
        unexpected: true,
      });
    });
  });
});

describe('toProblem', () => {
  it('builds the problem+json body from the shape and the request', () => {
    const problem = toProblem(
      { code: ErrorCode.ORG_NAME_TAKEN, status: 409, detail: 'Taken.' },
      '/org/create',
      'req-1',
    );
    expect(problem).toEqual({
      type: 'urn:problem-type:org-name-taken',
      title: 'Organization name taken',
      status: 409,
      detail: 'Taken.',
      instance: '/org/create',
      code: 'ORG_NAME_TAKEN',
      request_id: 'req-1',
    });
  });

  it('derives every type from its code, one URN per code', () => {
    const types = Object.values(ErrorCode).map(
      (code) => toProblem({ code, status: 400, detail: '' }, '/', 'r').type,
    );
    expect(types).toContain('urn:problem-type:idempotency-key-reused');
    expect(types.every((type) => /^urn:problem-type:[a-z]+(?:-[a-z]+)*$/.test(type))).toBe(true);
    expect(new Set(types).size).toBe(types.length);
  });

  it('lists field errors when there are some', () => {
    const errors = [{ field: 'email', message: 'email must be an email' }];
    const problem = toProblem(
      { code: ErrorCode.VALIDATION_FAILED, status: 400, detail: 'x', errors },
      '/',
      'r',
    );
    expect(problem.errors).toEqual(errors);
  });

  it('leaves out an empty list of field errors', () => {
    const problem = toProblem(
      { code: ErrorCode.VALIDATION_FAILED, status: 400, detail: 'x', errors: [] },
      '/',
      'r',
    );
    expect(problem).not.toHaveProperty('errors');
  });

  it('keeps the status of the shape, not the default of its code', () => {
    expect(
      toProblem({ code: ErrorCode.MALFORMED_REQUEST, status: 418, detail: '' }, '/', 'r').status,
    ).toBe(418);
  });
});
