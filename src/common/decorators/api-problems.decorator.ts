import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDetailsDto } from '../http/problem-details.dto';
import { PROBLEM_CONTENT_TYPE } from '../http/problem';

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (VALIDATION_FAILED, MALFORMED_REQUEST).',
  401: 'Missing, invalid, expired or revoked bearer token (UNAUTHORIZED).',
  403: 'The token belongs to another organization (FORBIDDEN).',
  404: 'No such organization (ORG_NOT_FOUND).',
  409: 'Conflict with the current state.',
  413: 'The body exceeds 100 kB (PAYLOAD_TOO_LARGE).',
  415: 'The body is not application/json (UNSUPPORTED_MEDIA_TYPE).',
  429: 'Rate limit exceeded (TOO_MANY_REQUESTS).',
  500: 'Unexpected error (INTERNAL_ERROR); details are logged, never returned.',
  503: 'The database is unavailable (SERVICE_UNAVAILABLE).',
};

/**
 * Declares error responses with the shared problem+json schema. Pass a status
 * or `[status, description]` to name the codes an endpoint can really give.
 */
export function ApiProblems(...statuses: Array<number | [number, string]>): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ...[...statuses, 500, 503].map((entry) => {
      const [status, description] = Array.isArray(entry)
        ? entry
        : [entry, DEFAULT_DESCRIPTIONS[entry] ?? 'Error.'];
      return ApiResponse({
        status,
        description,
        content: {
          [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetailsDto) } },
        },
      });
    }),
  );
}
