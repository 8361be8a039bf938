import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * One collection, three kinds of document, each written once by an insert
 * whose unique `_id` decides (FerretDB 1.24 does not isolate conditional
 * updates, so no step depends on one):
 *
 * - `<id>`: the key itself and the MAC of the request it stands for;
 * - `<id>:c:<generation>`: a claim: whoever inserts the next generation
 *   runs the request, while it renews `lease_until`;
 * - `<id>:r`: the outcome, written by the holder of the latest claim.
 *
 * `<id>` is itself a MAC of the scope, the caller and the client's key, so
 * no key, client address or admin id is stored in clear.
 */
@Schema({ collection: 'idempotency_keys', versionKey: false })
export class IdempotencyRecord {
  @Prop({ type: String, required: true })
  _id!: string;

  /** Keys: HMAC-SHA256 of the canonical request body (which holds a password). */
  @Prop({ type: String })
  request_mac?: string;

  /** Claims. */
  @Prop({ type: Number })
  generation?: number;

  @Prop({ type: String })
  token?: string;

  @Prop({ type: Date })
  lease_until?: Date;

  /** Outcomes. */
  @Prop({ type: Number })
  status?: number;

  @Prop({ type: Object })
  body?: unknown;

  @Prop({ required: true })
  expires_at!: Date;
}
export const IdempotencyRecordSchema = SchemaFactory.createForClass(IdempotencyRecord);
