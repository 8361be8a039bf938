import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';

@Schema({ collection: 'audit_events', versionKey: false })
export class AuditEvent {
  _id!: Types.ObjectId;

  /** e.g. `organization.renamed`, `admin.removed`, `login.failed`. */
  @Prop({ type: String, required: true })
  action!: string;

  @Prop({ type: Types.ObjectId, default: null })
  organization_id!: Types.ObjectId | null;

  @Prop({ type: Types.ObjectId, default: null })
  actor_id!: Types.ObjectId | null;

  /** For logins this is the email that was tried; never a password. */
  @Prop({ type: String, default: null })
  actor_email!: string | null;

  @Prop({ type: String, default: null })
  actor_role!: string | null;

  @Prop({ type: String, required: true })
  ip!: string;

  @Prop({ type: String, required: true })
  request_id!: string;

  @Prop({ type: Object, default: {} })
  details!: Record<string, unknown>;

  @Prop({ required: true })
  at!: Date;

  @Prop({ required: true })
  expires_at!: Date;
}

export const AuditEventSchema = SchemaFactory.createForClass(AuditEvent);
AuditEventSchema.index({ organization_id: 1, _id: -1 });
