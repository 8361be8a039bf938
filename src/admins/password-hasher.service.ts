import { randomBytes } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import * as bcrypt from 'bcrypt';
import { Model, trusted } from 'mongoose';
import { PASSWORD_MAX_BYTES } from '../common/decorators/validation.decorators';
import { authConfig, type AuthConfig } from '../config/configuration';
import { Admin } from './schemas/admin.schema';

/** A bcrypt hash: `$2b$12$` + 22 characters of salt + 31 of digest. */
const BCRYPT_HASH = /^\$2[abxy]\$(\d{2})\$[./0-9A-Za-z]{53}$/;
const BCRYPT_PREFIXES = ['$2a$', '$2b$', '$2x$', '$2y$'];

/** The cost factor of a bcrypt hash, or undefined for anything else. */
export function bcryptCost(hash: string): number | undefined {
  const match = BCRYPT_HASH.exec(hash);
  return match ? Number(match[1]) : undefined;
}

/** How often the highest cost among stored hashes is read again (it only falls, as hashes are upgraded). */
export const WORK_COST_REFRESH_MS = 10 * 60_000;

/**
 * bcrypt on libuv's thread pool (never the sync API, which would block the
 * event loop for ~250 ms per call at cost 12).
 *
 * Every check costs the same, so response time tells nothing about the
 * account: the work of one bcrypt run at the *work cost*, the higher of
 * BCRYPT_COST and the highest cost among stored hashes. An unknown email, a
 * disabled account or a password bcrypt would truncate is compared against a
 * dummy hash at that cost; a stored hash of a lower cost (BCRYPT_COST was
 * raised since it was made) is padded with runs at the missing costs, since
 * bcrypt's work doubles with each step (2^s + 2^s + ... + 2^(w-1) = 2^w). A
 * hash not at BCRYPT_COST is replaced at the next successful login
 * ({@link needsRehash}), after which the work cost falls back by itself.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PasswordHasher.name);
  private workCost: number;
  private dummyHash!: string;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
    @InjectModel(Admin.name) private readonly admins: Model<Admin>,
  ) {
    this.workCost = config.bcryptCost;
  }

  async onModuleInit(): Promise<void> {
    await this.refreshWorkCost();
    this.timer = setInterval(() => {
      this.refreshWorkCost().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Could not read the stored bcrypt costs; will retry'),
      );
    }, WORK_COST_REFRESH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** The cost every check is brought up to (see the class comment). */
  get currentWorkCost(): number {
    return this.workCost;
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptCost);
  }

  /** Whether a hash that just matched should be replaced by one at BCRYPT_COST. */
  needsRehash(hash: string): boolean {
    return bcryptCost(hash) !== this.config.bcryptCost;
  }

  /**
   * Whether `password` matches `hash` (undefined: no such account). A
   * password over 72 bytes never matches: bcrypt would compare only its first
   * 72 bytes, so `P + "anything"` would pass for P.
   */
  async verify(password: string, hash: string | undefined): Promise<boolean> {
    const cost = hash === undefined ? undefined : bcryptCost(hash);
    if (
      hash === undefined ||
      cost === undefined ||
      Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES
    ) {
      await bcrypt.compare(password, this.dummyHash);
      return false;
    }
    const matches = await bcrypt.compare(password, hash);
    for (let padding = cost; padding < this.workCost; padding++) {
      await bcrypt.hash(password, padding);
    }
    return matches;
  }

  /** Reads the highest cost among stored hashes; a new work cost gets a new dummy hash. */
  async refreshWorkCost(): Promise<void> {
    let highest = this.config.bcryptCost;
    // Per prefix, the highest cost sorts last: two zero-padded digits follow it.
    for (const prefix of BCRYPT_PREFIXES) {
      const top = await this.admins
        .findOne(
          { password_hash: trusted({ $gt: prefix, $lt: `${prefix}~` }) },
          { password_hash: 1 },
        )
        .sort({ password_hash: -1 })
        .lean<Pick<Admin, 'password_hash'>>()
        .exec();
      const cost = top ? bcryptCost(top.password_hash) : undefined;
      if (cost !== undefined && cost > highest) highest = cost;
    }
    if (this.dummyHash !== undefined && highest === this.workCost) return;
    const dummy = await bcrypt.hash(randomBytes(16).toString('hex'), highest);
    if (highest !== this.config.bcryptCost && highest !== this.workCost) {
      this.logger.warn(
        `Stored password hashes of cost ${highest} (BCRYPT_COST is ${this.config.bcryptCost}): every password check costs as much until they are upgraded at their next login`,
      );
    }
    this.workCost = highest;
    this.dummyHash = dummy;
  }
}
