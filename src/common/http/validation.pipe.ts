import { type ArgumentMetadata, type ValidationError, ValidationPipe } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage, IS_OPTIONAL } from 'class-validator';
import { DomainError, FieldError } from '../errors/domain.error';
import { ErrorCode } from '../errors/error-codes';

/**
 * Constraints whose message says what is most wrong with a value, in that
 * order: for an object where a string belongs, "must be a string" helps, not
 * three more messages about its length and pattern.
 */
const FIRST_CONSTRAINTS = [
  'whitelistValidation',
  'isDefined',
  'isString',
  'isInt',
  'isNumber',
  'isBoolean',
  'isArray',
  'isObject',
  'nestedValidation',
];

/** One message per field, the most telling one (FIRST_CONSTRAINTS, else the first). */
function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    const key =
      FIRST_CONSTRAINTS.find((name) => name in constraints) ?? Object.keys(constraints)[0];
    const own = key === undefined ? [] : [{ field, message: constraints[key] }];
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

  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype)
      refuseExplicitNulls(value, metadata.metatype);
    return super.transform(value, metadata);
  }
}

/**
 * `@IsOptional()` lets `null` through as if the field were absent, so a
 * service would meet `null` where its type says string (a 500 the fuzzer
 * found). Absent is optional; an explicit null is a value, and no DTO field
 * documents null as one.
 */
function refuseExplicitNulls(value: unknown, metatype: abstract new (...args: never[]) => unknown) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const optional = getMetadataStorage()
    .getTargetValidationMetadatas(metatype, '', true, false)
    .filter((meta) => meta.name === IS_OPTIONAL)
    .map((meta) => meta.propertyName);
  const fieldErrors = [...new Set(optional)]
    .filter((field) => (value as Record<string, unknown>)[field] === null)
    .map((field) => ({ field, message: `${field} must not be null; leave it out instead` }));
  if (fieldErrors.length > 0) {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      fieldErrors.length === 1
        ? fieldErrors[0].message
        : `${fieldErrors.length} fields are invalid.`,
      fieldErrors,
    );
  }
}

/**
 * States in the OpenAPI document what this pipe enforces on bodies: unknown
 * fields are refused (`forbidNonWhitelisted`), i.e. request schemas are closed.
 */
export function documentClosedRequestBodies(document: OpenAPIObject): OpenAPIObject {
  const schemas = document.components?.schemas ?? {};
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item as Record<string, unknown>)) {
      const content = (
        operation as { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }
      )?.requestBody?.content;
      const ref = content?.['application/json']?.schema?.$ref;
      const schema = ref
        ? (schemas[ref.split('/').pop()!] as { additionalProperties?: boolean })
        : undefined;
      if (schema) schema.additionalProperties = false;
    }
  }
  return document;
}

export function createValidationPipe(): ValidationPipe {
  return new DtoValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    // Every rule runs (class-validator would otherwise stop at the decorator
    // written last, not the most telling one); flatten() keeps one message per field.
    stopAtFirstError: false,
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
