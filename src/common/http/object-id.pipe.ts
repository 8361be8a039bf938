import { Param, type PipeTransform } from '@nestjs/common';
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

export const ObjectIdParam = (name: string) => Param(name, new ParseObjectIdPipe(name));
