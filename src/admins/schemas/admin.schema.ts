import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';

/** `superadmin` is the operator: no organization, bootstrapped from the environment. */
export const ADMIN_ROLES = ['owner', 'admin', 'superadmin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

@Schema({
  collection: 'admins',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class Admin {
  _id!: Types.ObjectId;

  /** Lower-cased; unique across the service because login is by email alone. */
  @Prop({ required: true, unique: true })
  email!: string;

  @Prop({ required: true })
  password_hash!: string;

  /** Null only for the super admin. */
  @Prop({ type: Types.ObjectId, default: null, index: true })
  organization_id!: Types.ObjectId | null;

  @Prop({ type: String, required: true, enum: ADMIN_ROLES, default: 'owner' })
  role!: AdminRole;

  /**
   * Bumped on every password or email change; tokens carry the value they
   * were issued with (`ver`), so a change invalidates every earlier token.
   */
  @Prop({ required: true, default: 0 })
  credentials_version!: number;

  created_at!: Date;
  updated_at!: Date;
}

export const AdminSchema = SchemaFactory.createForClass(Admin);
