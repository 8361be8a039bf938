import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectModel, Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { describeError } from '../common/http/problem';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { ExpiringCollection } from '../database/expiring-collection';

const RETENTION_MS = 24 * 3_600_000;
/** How long a retry waits for the first request with its key to finish. */
const WAIT_FOR_FIRST_MS = 10_000;
const POLL_MS = 100;

@Schema({ collection: 'idempotency_keys', versionKey: false })
export class IdempotencyRecord {
  /** `<scope>:<key>` */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  request_hash!: string;

  @Prop({ type: String, required: true, enum: ['pending', 'done'] })
  state!: 'pending' | 'done';

  @Prop({ type: Number })
  status?: number;

  @Prop({ type: Object })
  body?: unknown;

  @Prop({ required: true })
  expires_at!: Date;
}
export const IdempotencyRecordSchema = SchemaFactory.createForClass(IdempotencyRecord);

export interface StoredResponse {
  status: number;
  body: unknown;
  replayed: boolean;
}

/** Stable across key order, so `{a,b}` and `{b,a}` are the same request. */
function canonicalHash(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}

/**
 * `Idempotency-Key` semantics for unsafe requests: the first request with a
 * key runs and its outcome (success or client error) is stored for 24 hours;
 * a retry with the same body gets the same answer, a different body gets 422,
 * and a retry racing the first one waits for it. The key's document is
 * claimed with an insert, so concurrent retries run the work exactly once.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly expiry: ExpiringCollection;

  constructor(
    @InjectModel(IdempotencyRecord.name) private readonly records: Model<IdempotencyRecord>,
  ) {
    this.expiry = new ExpiringCollection(records);
  }

  async onModuleInit(): Promise<void> {
    await this.expiry.start();
  }

  onModuleDestroy(): void {
    this.expiry.stop();
  }

  async run<T>(
    scope: string,
    key: string,
    request: unknown,
    successStatus: number,
    work: () => Promise<T>,
  ): Promise<StoredResponse> {
    const id = `${scope}:${key}`;
    const hash = canonicalHash(request);
    const claimed = await this.claim(id, hash);
    if (!claimed) return this.replay(id, hash);

    try {
      const body = await work();
      await this.finish(id, successStatus, body);
      return { status: successStatus, body, replayed: false };
    } catch (error) {
      const shape = describeError(error);
      // Client errors are outcomes worth replaying; anything else may be
      // transient, so the key is released for a clean retry.
      if (shape.status >= 400 && shape.status < 500) {
        await this.finish(id, shape.status, {
          __error: true,
          code: shape.code,
          detail: shape.detail,
          errors: shape.errors,
        });
      } else {
        await this.records.deleteOne({ _id: id, state: 'pending' }).exec();
      }
      throw error;
    }
  }

  private async claim(id: string, hash: string): Promise<boolean> {
    try {
      await this.records.create({
        _id: id,
        request_hash: hash,
        state: 'pending',
        expires_at: new Date(Date.now() + RETENTION_MS),
      });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  private async finish(id: string, status: number, body: unknown): Promise<void> {
    await this.records.updateOne({ _id: id }, { $set: { state: 'done', status, body } }).exec();
  }

  private async replay(id: string, hash: string): Promise<StoredResponse> {
    const deadline = Date.now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const record = await this.records.findById(id).lean<IdempotencyRecord>().exec();
      if (!record || record.expires_at < new Date()) {
        // Expired or released meanwhile: this request becomes the first.
        throw new DomainError(
          ErrorCode.IDEMPOTENCY_IN_PROGRESS,
          'The earlier request with this Idempotency-Key failed; retry.',
        );
      }
      if (record.request_hash !== hash) {
        throw new DomainError(
          ErrorCode.IDEMPOTENCY_KEY_REUSED,
          'This Idempotency-Key was used with a different request body.',
        );
      }
      if (record.state === 'done') {
        const body = record.body as {
          __error?: boolean;
          code?: string;
          detail?: string;
          errors?: [];
        };
        if (body?.__error) {
          throw new DomainError(body.code as ErrorCode, body.detail ?? '', body.errors);
        }
        return { status: record.status ?? 200, body: record.body, replayed: true };
      }
      if (Date.now() > deadline) {
        throw new DomainError(
          ErrorCode.IDEMPOTENCY_IN_PROGRESS,
          'A request with this Idempotency-Key is still running; retry shortly.',
        );
      }
      await sleep(POLL_MS);
    }
  }
}
