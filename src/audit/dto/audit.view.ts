import { ApiProperty } from '@nestjs/swagger';
import type { AuditEvent } from '../schemas/audit-event.schema';

export class AuditEventView {
  /** @example "665f1c2b9d3e4a00123456ff" */
  id!: string;
  /** @example "organization.renamed" */
  action!: string;

  @ApiProperty({ type: String, nullable: true })
  organization_id!: string | null;

  @ApiProperty({ type: String, nullable: true })
  actor_id!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'owner@acme.test' })
  actor_email!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'owner' })
  actor_role!: string | null;

  /** @example "203.0.113.7" */
  ip!: string;
  request_id!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  details!: Record<string, unknown>;

  at!: Date;

  static from(e: AuditEvent): AuditEventView {
    return {
      id: String(e._id),
      action: e.action,
      organization_id: e.organization_id ? String(e.organization_id) : null,
      actor_id: e.actor_id ? String(e.actor_id) : null,
      actor_email: e.actor_email,
      actor_role: e.actor_role,
      ip: e.ip,
      request_id: e.request_id,
      details: e.details ?? {},
      at: e.at,
    };
  }
}

export class AuditPageView {
  @ApiProperty({ type: [AuditEventView] })
  items!: AuditEventView[];

  @ApiProperty({ type: String, nullable: true })
  next!: string | null;
}
