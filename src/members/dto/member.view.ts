import { ApiProperty } from '@nestjs/swagger';
import type { Member } from '../schemas/member.schema';

export class MemberView {
  /** @example "665f1c2b9d3e4a00123456aa" */
  id!: string;
  /** @example "jane@acme.test" */
  email!: string;
  /** @example "Jane Doe" */
  name!: string;
  /** @example "member" */
  role!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { team: 'platform' } })
  metadata!: Record<string, string | number | boolean | null>;

  created_at!: Date;
  updated_at!: Date;

  static from(member: Member): MemberView {
    return {
      id: String(member._id),
      email: member.email,
      name: member.name,
      role: member.role,
      metadata: member.metadata ?? {},
      created_at: member.created_at,
      updated_at: member.updated_at,
    };
  }
}

export class MemberPageView {
  @ApiProperty({ type: [MemberView] })
  items!: MemberView[];

  /** Pass as `after` to get the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true, example: '665f1c2b9d3e4a00123456aa' })
  next!: string | null;
}
