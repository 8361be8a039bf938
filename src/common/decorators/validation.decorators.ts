import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, MaxLength, ValidateBy, type ValidationOptions } from 'class-validator';
import { trimChar } from '../text/trim';

/** bcrypt silently ignores bytes after the 72nd, so longer passwords are refused, not truncated. */
export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 72;

// Only strings are transformed: an object such as {"$gt": ""} must reach the
// validators untouched so it is rejected as "not a string". Only spaces are
// trimmed: a tab, newline or other Unicode space around a name is refused,
// which also keeps a documented OpenAPI pattern exact. This runs before any
// length check, on anonymous requests, so it must be linear (see trimChar).
export const trimmed = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? trimChar(value, ' ') : value,
  );

const lowerCased = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.trim().toLowerCase() : value,
  );

export function IsAdminEmail(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ type: 'string', format: 'email', maxLength: 254 }),
    lowerCased(),
    IsString(),
    MaxLength(254),
    IsEmail(
      { allow_ip_domain: false, require_tld: true },
      { message: '$property must be a valid email address' },
    ),
  );
}

function IsBcryptSafePassword(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBcryptSafePassword',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          const bytes = Buffer.byteLength(value, 'utf8');
          return bytes >= PASSWORD_MIN_BYTES && bytes <= PASSWORD_MAX_BYTES && value.trim() !== '';
        },
        defaultMessage: () =>
          `$property must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes and not only whitespace`,
      },
    },
    options,
  );
}

export function IsPassword(): PropertyDecorator {
  // `format: password` carries the byte limits JSON Schema cannot express
  // (characters are not bytes); the fuzzer's hooks generate it accordingly.
  return applyDecorators(
    ApiProperty({
      type: 'string',
      format: 'password',
      minLength: Math.ceil(PASSWORD_MIN_BYTES / 4),
      maxLength: PASSWORD_MAX_BYTES,
    }),
    IsString(),
    IsBcryptSafePassword(),
  );
}
