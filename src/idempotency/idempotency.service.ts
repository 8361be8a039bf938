import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, trusted } from 'mongoose';
import { DomainError, type FieldError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { describeError } from '../common/http/problem';
import type { RequestContext } from '../auth/request-context';
import {
  authConfig,
  databaseConfig,
  type AuthConfig,
  type DatabaseConfig,
} from '../config/configuration';
import { ExpiringCollections } from '../database/expiring-collections.service';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { IdempotencyRecord } from './schemas/idempotency-record.schema';

const RETENTION_MS = 24 * 3_600_000;
/** How long a retry waits for the request holding its key to finish. */
const WAIT_FOR_HOLDER_MS = 10_000;
const POLL_MS = 100;
/** Derives the MAC key from JWT_SECRET; a new label gives a new, unrelated key. */
const HKDF_INFO = 'org-management-service idempotency-key mac v1';

export interface StoredResponse {
  status: number;
  body: unknown;
  replayed: boolean;
}

interface Claim {
  id: string;
  generation: number;
  token: string;
}

interface StoredError {
  __error: true;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
}

/** Stable across key order, so `{a,b}` and `{b,a}` are the same request. */
function canonicalJson(value: unknown): string {
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
  return JSON.stringify(canonical(value));
}

const pad = (n: number) => String(n).padStart(10, '0');
const prefixed = (prefix: string) => trusted({ $gt: prefix, $lt: `${prefix}~` });

/**
 * `Idempotency-Key` semantics for unsafe requests: the first request with a
 * key runs and its outcome (success or client error) is stored for 24 hours;
 * a retry with the same body gets the same answer, a different body gets 422,
 * and a retry racing the first one waits for it.
 *
 * - **Scoped to the caller**: a key belongs to the admin who sent it, or to
 *   the client address of an anonymous request, so nobody can replay another
 *   caller's answer by guessing its key.
 * - **No password at rest in a guessable form**: the request is kept as an
 *   HMAC under a server secret (derived from JWT_SECRET with HKDF), not as a
 *   plain SHA-256 that anyone reading the database could test guesses
 *   against.
 * - **A dead holder releases the key within a lease** (OPERATION_LEASE_MS,
 *   renewed a few times per lease while the work runs), not after 24 hours:
 *   a retry then claims the next generation and runs the request (a client
 *   error it meets is answered but not stored, see runClaimed). A holder
 *   that stalled past its lease and finishes late stores nothing, because
 *   its claim is no longer the latest; the outcome is written once (a unique
 *   insert), so it can never replace the new holder's.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly macKey: Buffer;
  private readonly leaseMs: number;
  private readonly renewals = new Set<NodeJS.Timeout>();

  constructor(
    @InjectModel(IdempotencyRecord.name) private readonly records: Model<IdempotencyRecord>,
    @Inject(authConfig.KEY) auth: AuthConfig,
    @Inject(databaseConfig.KEY) database: DatabaseConfig,
    private readonly expiring: ExpiringCollections,
  ) {
    this.macKey = Buffer.from(hkdfSync('sha256', auth.jwtSecret, '', HKDF_INFO, 32));
    this.leaseMs = database.operationLeaseMs;
  }

  async onModuleInit(): Promise<void> {
    await this.expiring.register(this.records.collection.collectionName);
  }

  onModuleDestroy(): void {
    // A process that stops stops renewing: its claims lapse like a dead one's.
    for (const timer of this.renewals) clearInterval(timer);
    this.renewals.clear();
  }

  /** Who a key belongs to: the admin, or the client address of an anonymous request. */
  static callerOf(context: RequestContext): string {
    return context.actor ? `admin:${String(context.actor.adminId)}` : `address:${context.ip}`;
  }

  async run<T>(
    scope: string,
    context: RequestContext,
    key: string,
    request: unknown,
    successStatus: number,
    work: () => Promise<T>,
  ): Promise<StoredResponse> {
    const id = this.mac(`key\n${scope}\n${IdempotencyService.callerOf(context)}\n${key}`);
    await this.bindRequest(id, this.mac(`request\n${canonicalJson(request)}`));

    const deadline = Date.now() + WAIT_FOR_HOLDER_MS;
    for (;;) {
      const stored = await this.outcome(id);
      if (stored) return stored;
      const claim = await this.tryClaim(id);
      if (claim) return this.runClaimed(claim, successStatus, work);
      if (Date.now() > deadline) {
        throw new DomainError(
          ErrorCode.IDEMPOTENCY_IN_PROGRESS,
          'A request with this Idempotency-Key is still running; retry shortly.',
        );
      }
      await sleep(POLL_MS);
    }
  }

  private mac(text: string): string {
    return createHmac('sha256', this.macKey).update(text).digest('hex');
  }

  /** Records which request the key stands for, or checks that it is the same one. */
  private async bindRequest(id: string, requestMac: string): Promise<void> {
    try {
      await this.records.create({
        _id: id,
        request_mac: requestMac,
        expires_at: new Date(Date.now() + RETENTION_MS),
      });
      return;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const bound = await this.records.findById(id).lean<IdempotencyRecord>().exec();
    if (!bound || bound.expires_at < new Date()) {
      // Expired and awaiting the purge (or purged this instant).
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        'This Idempotency-Key has just expired; retry shortly.',
      );
    }
    if (bound.request_mac !== requestMac) {
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'This Idempotency-Key was used with a different request body.',
      );
    }
  }

  /** The stored outcome, replayed; undefined while there is none. */
  private async outcome(id: string): Promise<StoredResponse | undefined> {
    const record = await this.records.findById(`${id}:r`).lean<IdempotencyRecord>().exec();
    if (!record) return undefined;
    const body = record.body as StoredError | undefined;
    if (body?.__error) throw new DomainError(body.code, body.detail ?? '', body.errors);
    return { status: record.status ?? 200, body: record.body, replayed: true };
  }

  private async latestClaim(id: string): Promise<IdempotencyRecord | null> {
    return this.records
      .findOne({ _id: prefixed(`${id}:c:`) })
      .sort({ _id: -1 })
      .lean<IdempotencyRecord>()
      .exec();
  }

  /** Claims the key if nobody holds a live lease on it; the insert of the next generation decides. */
  private async tryClaim(id: string): Promise<Claim | undefined> {
    const latest = await this.latestClaim(id);
    if (latest?.lease_until && latest.lease_until.getTime() > Date.now()) return undefined;
    const claim = { id, generation: (latest?.generation ?? 0) + 1, token: randomUUID() };
    try {
      await this.records.create({
        _id: `${id}:c:${pad(claim.generation)}`,
        generation: claim.generation,
        token: claim.token,
        lease_until: new Date(Date.now() + this.leaseMs),
        expires_at: new Date(Date.now() + RETENTION_MS),
      });
      return claim;
    } catch (error) {
      if (isDuplicateKeyError(error)) return undefined;
      throw error;
    }
  }

  private async runClaimed<T>(
    claim: Claim,
    successStatus: number,
    work: () => Promise<T>,
  ): Promise<StoredResponse> {
    const renewal = setInterval(() => void this.renew(claim), Math.max(100, this.leaseMs / 3));
    renewal.unref();
    this.renewals.add(renewal);
    let body: T;
    try {
      body = await work();
    } catch (error) {
      clearInterval(renewal);
      this.renewals.delete(renewal);
      const shape = describeError(error);
      // Client errors are outcomes worth replaying; anything else may be
      // transient, so the key is released for a clean retry. So is a client
      // error met by a retry that took the key over: it may have run into
      // what its dead predecessor left half done (a pending create holds the
      // name until repair rolls it back), so the next retry runs afresh.
      if (shape.status >= 400 && shape.status < 500 && claim.generation === 1) {
        const stored: StoredError = {
          __error: true,
          code: shape.code,
          detail: shape.detail,
          errors: shape.errors,
        };
        await this.finish(claim, shape.status, stored);
      } else {
        await this.release(claim);
      }
      throw error;
    }
    clearInterval(renewal);
    this.renewals.delete(renewal);
    await this.finish(claim, successStatus, body);
    return { status: successStatus, body, replayed: false };
  }

  /** Extends the lease; only this holder ever writes its claim document. */
  private async renew(claim: Claim): Promise<void> {
    try {
      await this.records
        .updateOne(
          { _id: `${claim.id}:c:${pad(claim.generation)}` },
          { $set: { lease_until: new Date(Date.now() + this.leaseMs) } },
        )
        .exec();
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not renew an idempotency lease; will retry');
    }
  }

  /**
   * Stores the outcome if this claim is still the latest. A holder that
   * stalled past its lease was replaced, and its outcome goes to its own
   * client only; and as outcomes are inserted, never updated, even a race
   * between this check and the insert cannot replace one that was stored.
   */
  private async finish(claim: Claim, status: number, body: unknown): Promise<void> {
    const latest = await this.latestClaim(claim.id);
    if (latest?.generation !== claim.generation || latest.token !== claim.token) {
      this.logger.warn(
        'An idempotent request finished after its lease had passed to a retry; its outcome is not stored',
      );
      return;
    }
    try {
      await this.records.create({
        _id: `${claim.id}:r`,
        status,
        body,
        expires_at: new Date(Date.now() + RETENTION_MS),
      });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  /** Gives the key up at once (deleting one's own claim by `_id`), so a retry need not wait for the lease. */
  private async release(claim: Claim): Promise<void> {
    await this.records.deleteOne({ _id: `${claim.id}:c:${pad(claim.generation)}` }).exec();
  }
}
