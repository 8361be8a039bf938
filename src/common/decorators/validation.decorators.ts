import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsEmail,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import {
  ORGANIZATION_NAME_MAX,
  ORGANIZATION_NAME_MIN,
  ORGANIZATION_NAME_PATTERN,
} from '../../organizations/organization-name';

/** bcrypt silently ignores bytes after the 72nd, so longer passwords are refused, not truncated. */
export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 72;

// Only strings are transformed: an object such as {"$gt": ""} must reach the
// validators untouched so it is rejected as "not a string".
const trimmed = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));
const lowerCased = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.trim().toLowerCase() : value,
  );

export function IsOrganizationName(): PropertyDecorator {
  return applyDecorators(
    trimmed(),
    IsString(),
    Length(ORGANIZATION_NAME_MIN, ORGANIZATION_NAME_MAX, {
      message: `$property must be ${ORGANIZATION_NAME_MIN} to ${ORGANIZATION_NAME_MAX} characters`,
    }),
    Matches(ORGANIZATION_NAME_PATTERN, {
      message:
        '$property may contain only letters, digits, spaces, "-" and "_", and must start with a letter or digit',
    }),
  );
}

export function IsAdminEmail(): PropertyDecorator {
  return applyDecorators(
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
  return applyDecorators(IsString(), IsBcryptSafePassword());
}
