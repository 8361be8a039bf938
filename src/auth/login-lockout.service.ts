import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Collection, ObjectId } from 'mongodb';
import { tooManyRequests } from '../common/errors/domain.error';
import { securityConfig, type SecurityConfig } from '../config/configuration';
import { ExpiringCollections } from '../database/expiring-collections.service';
import { LOGIN_ATTEMPTS_COLLECTION } from './auth.constants';

interface AttemptDocument {
  _id?: ObjectId;
  /** sha256 of the lower-cased email: the account, whether or not it exists. */
  account: string;
  at: Date;
  expires_at: Date;
}

/** An admitted attempt; pass it to {@link LoginLockoutService.succeeded} after a good password. */
export interface AdmittedAttempt {
  account: string;
}

/**
 * Per-account brute-force lock-out of every password check: logins and the
 * `current_password` of a credentials change (PasswordConfirmation) count
 * together. At most LOGIN_LOCKOUT attempts (10 per 15 minutes by default) per
 * email in a sliding window, after which every attempt gets 429 with
 * `Retry-After` until the oldest one leaves the window, without its password
 * being checked at all. A correct password clears the account's attempts.
 *
 * Every attempt is its own document, recorded before the password check and
 * counted after the insert. Inserts are atomic on MongoDB and FerretDB alike
 * (FerretDB 1.24 does not isolate concurrent updates of one document, which
 * rules out a counter), so parallel attempts cannot slip past the limit: the
 * k-th count to run sees at least k attempts. Unknown emails are locked the
 * same way, so the lock-out reveals nothing about which accounts exist.
 */
@Injectable()
export class LoginLockoutService implements OnModuleInit {
  private attempts!: Collection<AttemptDocument>;

  constructor(
    private readonly expiring: ExpiringCollections,
    @Inject(securityConfig.KEY) private readonly config: SecurityConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.attempts = await this.expiring.register<AttemptDocument>(LOGIN_ATTEMPTS_COLLECTION);
    await this.attempts.createIndex({ account: 1, at: 1 }, { name: 'account_at' });
  }

  /** Records an attempt on `email`'s account, or throws 429 while the account is locked. */
  async admit(email: string): Promise<AdmittedAttempt> {
    const account = accountKey(email);
    const policy = this.config.loginLockout;
    if (!policy) return { account };
    const now = new Date();
    const since = new Date(now.getTime() - policy.windowMs);
    const { insertedId } = await this.attempts.insertOne({
      account,
      at: now,
      expires_at: new Date(now.getTime() + policy.windowMs),
    });
    const inWindow = await this.attempts.countDocuments({ account, at: { $gt: since } });
    if (inWindow <= policy.limit) return { account };

    // A refused attempt is not recorded, so hammering a locked account does not extend its lock.
    await this.attempts.deleteOne({ _id: insertedId });
    const recorded = inWindow - 1;
    // The next attempt is admitted once enough of the oldest ones have left the window.
    const [freesUp] = await this.attempts
      .find({ account, at: { $gt: since } }, { projection: { at: 1 } })
      .sort({ at: 1 })
      .skip(Math.max(0, recorded - policy.limit))
      .limit(1)
      .toArray();
    const unlocksAt = (freesUp?.at.getTime() ?? now.getTime()) + policy.windowMs;
    const seconds = Math.max(1, Math.ceil((unlocksAt - Date.now()) / 1000));
    throw tooManyRequests(
      `Too many password attempts for this account; retry in ${seconds} second${seconds === 1 ? '' : 's'}.`,
      seconds,
    );
  }

  /** A correct password ends the account's streak of failures. */
  async succeeded(attempt: AdmittedAttempt): Promise<void> {
    if (!this.config.loginLockout) return;
    await this.attempts.deleteMany({ account: attempt.account });
  }
}

function accountKey(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}
