import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';

const SANE_KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header: absent, or 1 to 255 visible ASCII characters (400 otherwise). */
export const IdempotencyKey = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): string | undefined => {
    const value = ctx.switchToHttp().getRequest<FastifyRequest>().headers['idempotency-key'];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !SANE_KEY.test(value)) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        'Idempotency-Key must be 1 to 255 visible ASCII characters.',
        [{ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
      );
    }
    return value;
  },
);
