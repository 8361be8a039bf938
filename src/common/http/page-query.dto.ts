import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

/** `?limit=&after=` cursor pagination shared by every list endpoint. */
export class PageQueryDto {
  /**
   * Page size, 1 to 100 (default 20).
   * @example 20
   */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d{1,3}$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  /** The `next` cursor of the previous page. */
  @ApiPropertyOptional({ type: 'string', pattern: '^[0-9a-f]{24}$' })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9a-f]{24}$/, { message: 'after must be a cursor returned as `next`' })
  after?: string;
}
