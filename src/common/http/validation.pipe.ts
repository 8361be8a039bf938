import { type ArgumentMetadata, type ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError, FieldError } from '../errors/domain.error';
import { ErrorCode } from '../errors/error-codes';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/**
 * The one global pipe: unknown fields are rejected (not silently dropped),
 * values are coerced only where a DTO says so, and failures become a
 * VALIDATION_FAILED problem listing every field.
 */
/**
 * Route params are validated by their own pipes (e.g. ObjectIdParam); only
 * bodies and query strings are DTOs.
 */
class DtoValidationPipe extends ValidationPipe {
  protected override toValidate(metadata: ArgumentMetadata): boolean {
    return metadata.type !== 'param' && super.toValidate(metadata);
  }
}

export function createValidationPipe(): ValidationPipe {
  return new DtoValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    // One message per field: "must be a string" is the useful one for an object,
    // not three more about its length and pattern.
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const fieldErrors = flatten(errors);
      return new DomainError(
        ErrorCode.VALIDATION_FAILED,
        fieldErrors.length === 1
          ? fieldErrors[0].message
          : `${fieldErrors.length} fields are invalid.`,
        fieldErrors,
      );
    },
  });
}
