import { Param, type PipeTransform } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';
import { Types } from 'mongoose';
import { DomainError } from '../errors/domain.error';
import { ErrorCode } from '../errors/error-codes';

/** A 24-hex-digit id, or 400 before any query runs. */
export class ParseObjectIdPipe implements PipeTransform<unknown, Types.ObjectId> {
  constructor(private readonly field: string) {}

  transform(value: unknown): Types.ObjectId {
    if (typeof value !== 'string' || !/^[0-9a-f]{24}$/i.test(value)) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        `${this.field} must be a 24-character hex id.`,
        [{ field: this.field, message: `${this.field} must be a 24-character hex id` }],
      );
    }
    return new Types.ObjectId(value);
  }
}

/**
 * A route parameter holding an id. It documents itself: the OpenAPI document
 * gets the same 24-hex-digit pattern the pipe enforces, so clients (and the
 * fuzzer) know a malformed id is a 400, not a 404.
 */
export const ObjectIdParam =
  (name: string): ParameterDecorator =>
  (target, key, index) => {
    Param(name, new ParseObjectIdPipe(name))(target, key, index);
    const method = key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
    if (method) {
      ApiParam({
        name,
        // The pipe turns the string into an ObjectId; the wire type is a string.
        type: String,
        schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' },
        description: 'A 24-hex-digit id.',
      })(target, key!, method);
    }
  };
