import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { PageQueryDto } from '../../common/http/page-query.dto';

export class ListOrganizationsQueryDto extends PageQueryDto {
  /** The `next` cursor of the previous page (a slug). */
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9_]{1,50}$/, { message: 'after must be a cursor returned as `next`' })
  declare after?: string;

  /**
   * Name prefix, matched on the slug ("acme" finds "Acme Inc" and "ACME-Labs").
   * @example "acme"
   */
  @IsOptional()
  @IsString()
  @Length(1, 50)
  q?: string;
}
