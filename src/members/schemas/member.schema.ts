import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Types } from 'mongoose';

export const MEMBERS_COLLECTION = 'members';
export const MEMBER_MODEL = 'Member';

/** A person in the organization's directory. Lives in the tenant database. */
@Schema({
  collection: MEMBERS_COLLECTION,
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
  // Indexes are created by tenant migrations, not by Mongoose at model compile.
  autoIndex: false,
  autoCreate: false,
})
export class Member {
  _id!: Types.ObjectId;

  /** Lower-cased; unique within the organization (tenant migration 2). */
  @Prop({ type: String, required: true })
  email!: string;

  @Prop({ type: String, required: true })
  name!: string;

  @Prop({ type: String, required: true, default: 'member' })
  role!: string;

  @Prop({ type: Object, default: {} })
  metadata!: Record<string, string | number | boolean | null>;

  created_at!: Date;
  updated_at!: Date;
}

export const MemberSchema = SchemaFactory.createForClass(Member);
