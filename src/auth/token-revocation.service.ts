import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Collection, ObjectId } from 'mongodb';
import { ExpiringCollections } from '../database/expiring-collections.service';

export const REVOKED_TOKENS_COLLECTION = 'revoked_tokens';

interface RevokedTokenDocument {
  /** The token's `jti`. */
  _id: string;
  admin_id: ObjectId;
  revoked_at: Date;
  /** The token's own expiry: after it the entry is useless and is deleted. */
  expires_at: Date;
}

/**
 * Tokens revoked one by one (logout), by `jti`, until they would have expired
 * anyway. Revoking every token of an admin needs no list: that is the `ver`
 * claim's job. Entries expire through a TTL index on MongoDB and the
 * periodic purge on FerretDB; the lookup filters on `expires_at` either way.
 */
@Injectable()
export class TokenRevocationService implements OnModuleInit {
  private revoked!: Collection<RevokedTokenDocument>;

  constructor(private readonly expiring: ExpiringCollections) {}

  async onModuleInit(): Promise<void> {
    this.revoked = await this.expiring.register<RevokedTokenDocument>(REVOKED_TOKENS_COLLECTION);
  }

  /** Idempotent: revoking a revoked token changes nothing. */
  async revoke(tokenId: string, adminId: ObjectId, expiresAt: Date): Promise<void> {
    if (expiresAt.getTime() <= Date.now()) return;
    await this.revoked.updateOne(
      { _id: tokenId },
      { $setOnInsert: { admin_id: adminId, revoked_at: new Date(), expires_at: expiresAt } },
      { upsert: true },
    );
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    const entry = await this.revoked.findOne(
      { _id: tokenId, expires_at: { $gt: new Date() } },
      { projection: { _id: 1 } },
    );
    return entry !== null;
  }
}
