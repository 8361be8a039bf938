import { PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Length, ValidateBy } from 'class-validator';
import { IsAdminEmail } from '../../common/decorators/validation.decorators';

export const METADATA_MAX_KEYS = 20;
export const METADATA_MAX_BYTES = 2048;
const METADATA_KEY = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/** A flat JSON object of at most 20 scalar values and 2 kB: no nesting, no operator keys. */
function IsFlatMetadata(): PropertyDecorator {
  return ValidateBy({
    name: 'isFlatMetadata',
    validator: {
      validate: (value: unknown) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
        if (Object.getPrototypeOf(value) !== Object.prototype) return false;
        const entries = Object.entries(value);
        if (entries.length > METADATA_MAX_KEYS) return false;
        const scalar = (v: unknown) =>
          v === null || ['string', 'boolean'].includes(typeof v) || Number.isFinite(v);
        return (
          entries.every(([k, v]) => METADATA_KEY.test(k) && scalar(v)) &&
          Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES
        );
      },
      defaultMessage: () =>
        `$property must be a flat object of at most ${METADATA_MAX_KEYS} keys (letters, digits, "_") with string, number, boolean or null values, ${METADATA_MAX_BYTES} bytes at most`,
    },
  });
}

const trimmed = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

export class CreateMemberDto {
  /** @example "jane@acme.test" */
  @IsAdminEmail()
  email!: string;

  /** @example "Jane Doe" */
  @trimmed()
  @IsString()
  @Length(1, 100)
  name!: string;

  /**
   * A free-form label, `member` when omitted.
   * @example "engineer"
   */
  @IsOptional()
  @trimmed()
  @IsString()
  @Length(1, 40)
  role?: string;

  /**
   * Flat key/value pairs (at most 20 keys, 2 kB).
   * @example {"team": "platform", "seniority": 3}
   */
  @IsOptional()
  @IsFlatMetadata()
  metadata?: Record<string, string | number | boolean | null>;
}

/** Every field optional; at least one is required. `metadata` replaces the whole object. */
export class UpdateMemberDto extends PartialType(CreateMemberDto) {}
