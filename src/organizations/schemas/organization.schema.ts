import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';

export const OPERATION_TYPES = ['create', 'rename', 'delete'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/**
 * The protocol step an operation has reached. The rename steps are ordered:
 * everything before `dropping_source` can be rolled back, everything from it
 * on is rolled forward (the master record already points at the new database).
 */
export const OPERATION_STEPS = [
  'provisioning',
  'reserving',
  'copying',
  'verifying',
  'dropping_source',
  'dropping',
] as const;
export type OperationStep = (typeof OPERATION_STEPS)[number];

/**
 * A multi-write operation in flight, recorded on the organization itself so
 * that taking the organization's lock and logging the operation are one
 * atomic single-document write. `lease_until` tells a repairer whether the
 * process running it may still be alive.
 */
@Schema({ _id: false, versionKey: false })
export class PendingOperation {
  @Prop({ required: true })
  op_id!: string;

  @Prop({ type: String, required: true, enum: OPERATION_TYPES })
  type!: OperationType;

  @Prop({ type: String, required: true, enum: OPERATION_STEPS })
  step!: OperationStep;

  /**
   * The fencing token of the latest claim (a hint: the authority is
   * `operation_fences`, see OperationLedger).
   */
  @Prop({ type: Number, default: 1 })
  fence!: number;

  @Prop({ required: true })
  started_at!: Date;

  @Prop({ required: true })
  lease_until!: Date;

  @Prop()
  target_name?: string;

  @Prop()
  target_slug?: string;

  @Prop()
  target_database?: string;

  /** Set by the rename's switch: the database still to be dropped. */
  @Prop()
  source_database?: string;

  /** Set by the rename's switch: the slug reservation still to be released. */
  @Prop()
  source_slug?: string;
}
const PendingOperationSchema = SchemaFactory.createForClass(PendingOperation);

@Schema({
  collection: 'organizations',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class Organization {
  _id!: Types.ObjectId;

  /** Display name as the owner typed it (trimmed). */
  @Prop({ required: true })
  name!: string;

  @Prop({ required: true, unique: true })
  slug!: string;

  @Prop({ required: true })
  database_name!: string;

  /**
   * The name of the database cluster (TENANT_CLUSTERS) holding the tenant
   * database; absent or null on records older than clusters means `default`.
   * A name, never a URI: URIs hold credentials and rotate.
   */
  @Prop({ type: String, default: null })
  cluster!: string | null;

  @Prop({ type: PendingOperationSchema, default: null })
  pending!: PendingOperation | null;

  created_at!: Date;
  updated_at!: Date;
}

export const OrganizationSchema = SchemaFactory.createForClass(Organization);
// Repair scans for operations whose lease ran out.
OrganizationSchema.index({ 'pending.lease_until': 1 }, { sparse: true });

/**
 * One document per slug in use or being taken by a rename. Its `_id` is the
 * slug, so the primary key makes concurrent claims of one name exclusive,
 * including a rename's target name, which the organizations' own unique slug
 * index cannot see until the rename switches.
 */
@Schema({ collection: 'organization_slugs', versionKey: false })
export class SlugReservation {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: Types.ObjectId, required: true, index: true })
  organization_id!: Types.ObjectId;

  @Prop({ required: true })
  created_at!: Date;
}
export const SlugReservationSchema = SchemaFactory.createForClass(SlugReservation);

/** The organizations' master-database models, registered by the two organizations modules only. */
export const ORGANIZATION_MODELS = [
  { name: Organization.name, schema: OrganizationSchema },
  { name: SlugReservation.name, schema: SlugReservationSchema },
];
