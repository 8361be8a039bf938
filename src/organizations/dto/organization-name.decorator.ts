import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { trimmed } from '../../common/decorators/validation.decorators';
import {
  ORGANIZATION_NAME_MAX,
  ORGANIZATION_NAME_MIN,
  ORGANIZATION_NAME_PATTERN,
} from '../organization-name';

/**
 * What IsOrganizationName accepts, as the OpenAPI document states it:
 * ORGANIZATION_NAME_PATTERN and its length, plus the spaces that are trimmed.
 * Each validation decorator documents its own rules, so the document and the
 * validators cannot disagree (Schemathesis checks both directions).
 */
const ORGANIZATION_NAME_DOC_PATTERN = `^ *[A-Za-z0-9][A-Za-z0-9 _-]{${ORGANIZATION_NAME_MIN - 2},${ORGANIZATION_NAME_MAX - 2}}[A-Za-z0-9_-] *$`;
export function IsOrganizationName(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ type: 'string', pattern: ORGANIZATION_NAME_DOC_PATTERN }),
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
