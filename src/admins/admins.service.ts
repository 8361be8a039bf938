import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { StartupRefusedError } from '../config/startup-refused.error';
import { ErrorCode } from '../common/errors/error-codes';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { PasswordHasher } from './password-hasher.service';
import { OrganizationsRepository } from '../organizations/organizations.repository';
import { Admin, type AdminRole } from './schemas/admin.schema';

export type AdminRecord = Pick<
  Admin,
  '_id' | 'email' | 'organization_id' | 'role' | 'credentials_version'
>;
const RECORD_PROJECTION = { email: 1, organization_id: 1, role: 1, credentials_version: 1 };
/** Who holds an email, enough to tell an orphan. */
type Holder = Pick<Admin, '_id' | 'organization_id' | 'role'>;
/** Organizations looked up per query when sweeping orphans. */
const ORPHAN_BATCH = 500;

/** The only shape an admin leaves this service in: never the password hash. */
const toRecord = (admin: Admin): AdminRecord => ({
  _id: admin._id,
  email: admin.email,
  organization_id: admin.organization_id,
  role: admin.role,
  credentials_version: admin.credentials_version,
});

export const emailTaken = () =>
  new DomainError(ErrorCode.EMAIL_TAKEN, 'An admin with this email already exists.');

@Injectable()
export class AdminsService implements OnModuleInit {
  constructor(
    @InjectModel(Admin.name) private readonly admins: Model<Admin>,
    private readonly organizations: OrganizationsRepository,
    private readonly hasher: PasswordHasher,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.admins.createIndexes();
  }

  async create(input: {
    organizationId: Types.ObjectId;
    email: string;
    password: string;
    role: AdminRole;
  }): Promise<AdminRecord> {
    const { password, ...rest } = input;
    return this.insert({ ...rest, passwordHash: await this.hashPassword(password) });
  }

  /** bcrypt is slow on purpose: callers that fence their write hash before it. */
  hashPassword(password: string): Promise<string> {
    return this.hasher.hash(password);
  }

  /**
   * Inserts an admin whose password is already hashed. An email held by an
   * orphan (an admin whose organization was deleted, left by a write that
   * landed after the delete) is freed and the insert tried once more.
   */
  async insert(input: {
    organizationId: Types.ObjectId;
    email: string;
    passwordHash: string;
    role: AdminRole;
  }): Promise<AdminRecord> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const doc = await this.admins.create({
          email: input.email,
          password_hash: input.passwordHash,
          organization_id: input.organizationId,
          role: input.role,
          credentials_version: 0,
        });
        return toRecord(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        if (attempt > 0 || !(await this.deleteOrphanHolding(input.email))) throw emailTaken();
      }
    }
  }

  /** Read on every authenticated request: straight from the driver, as OrganizationsRepository.findById. */
  findById(id: Types.ObjectId): Promise<AdminRecord | null> {
    return this.admins.collection.findOne<AdminRecord>(
      { _id: id },
      { projection: RECORD_PROJECTION },
    );
  }

  /** Checks a password; unknown emails cost one bcrypt compare too. */
  async authenticate(email: string, password: string): Promise<AdminRecord | null> {
    const admin = await this.admins
      .findOne({ email }, { ...RECORD_PROJECTION, password_hash: 1 })
      .lean<AdminRecord & { password_hash: string }>()
      .exec();
    const ok = await this.hasher.verify(password, admin?.password_hash);
    if (!ok || !admin) return null;
    const { password_hash: hash, ...record } = admin;
    // BCRYPT_COST changed since this hash was made: replace it while the password is at hand.
    if (this.hasher.needsRehash(hash)) {
      await this.admins
        .updateOne(
          { _id: admin._id, password_hash: hash },
          { $set: { password_hash: await this.hasher.hash(password) } },
        )
        .exec();
    }
    return record;
  }

  async verifyPassword(id: Types.ObjectId, password: string): Promise<boolean> {
    const admin = await this.admins.findById(id, { password_hash: 1 }).lean().exec();
    return this.hasher.verify(password, admin?.password_hash);
  }

  /** Whether another admin holds `email`; an orphan (see `deleteOrphans`) does not count. */
  async emailInUse(email: string, exceptId?: Types.ObjectId): Promise<boolean> {
    const holder = await this.admins
      .findOne(exceptId ? { email, _id: trusted({ $ne: exceptId }) } : { email }, {
        organization_id: 1,
        role: 1,
      })
      .lean<Holder>()
      .exec();
    return holder !== null && !(await this.isOrphan(holder));
  }

  /**
   * Changes email and/or password in one write and bumps the credentials
   * version, which revokes every token issued before. A new email held by an
   * orphan is freed and the write tried once more.
   */
  async updateCredentials(
    id: Types.ObjectId,
    change: { email?: string; password?: string },
  ): Promise<AdminRecord> {
    const set: Partial<Admin> = {};
    if (change.email !== undefined) set.email = change.email;
    if (change.password !== undefined) set.password_hash = await this.hasher.hash(change.password);
    for (let attempt = 0; ; attempt += 1) {
      try {
        const updated = await this.admins
          .findByIdAndUpdate(
            id,
            { $set: set, $inc: { credentials_version: 1 } },
            // No projection: FerretDB 1.24 does not implement findAndModify's `fields`.
            { returnDocument: 'after' },
          )
          .lean<Admin>()
          .exec();
        if (!updated) throw new DomainError(ErrorCode.UNAUTHORIZED, 'The admin no longer exists.');
        return toRecord(updated);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        const freed = attempt === 0 && set.email && (await this.deleteOrphanHolding(set.email));
        if (!freed) throw emailTaken();
      }
    }
  }

  listForOrganization(organizationId: Types.ObjectId): Promise<AdminRecord[]> {
    return this.admins
      .find({ organization_id: organizationId }, RECORD_PROJECTION)
      .sort({ _id: 1 })
      .limit(1000)
      .lean<AdminRecord[]>()
      .exec();
  }

  findInOrganization(
    organizationId: Types.ObjectId,
    id: Types.ObjectId,
  ): Promise<AdminRecord | null> {
    return this.admins
      .findOne({ _id: id, organization_id: organizationId }, RECORD_PROJECTION)
      .lean<AdminRecord>()
      .exec();
  }

  /**
   * Sets the role and returns the admin as it was just before, or null when
   * it is not (or no longer) in the organization.
   */
  async setRole(
    organizationId: Types.ObjectId,
    id: Types.ObjectId,
    role: AdminRole,
  ): Promise<AdminRecord | null> {
    // No projection on findAndModify: FerretDB 1.24 does not implement it.
    const before = await this.admins
      .findOneAndUpdate(
        { _id: id, organization_id: organizationId },
        { $set: { role } },
        { returnDocument: 'before' },
      )
      .lean<Admin>()
      .exec();
    return before && toRecord(before);
  }

  /**
   * Deletes an admin of the organization and returns the whole document it
   * deleted (password hash included), which `restore` puts back exactly;
   * null when there was none.
   */
  async remove(organizationId: Types.ObjectId, id: Types.ObjectId): Promise<Admin | null> {
    return this.admins
      .findOneAndDelete({ _id: id, organization_id: organizationId })
      .lean<Admin>()
      .exec();
  }

  /** Re-inserts a document `remove` returned, unchanged (timestamps and all). */
  async restore(removed: Admin): Promise<void> {
    await this.admins.collection.insertOne(removed);
  }

  /** Whether the organization has an owner, other than `except` if given. */
  async hasOwner(organizationId: Types.ObjectId, except?: Types.ObjectId): Promise<boolean> {
    const filter = { organization_id: organizationId, role: 'owner' as const };
    const found = await this.admins.exists(
      except ? { ...filter, _id: trusted({ $ne: except }) } : filter,
    );
    return found !== null;
  }

  /**
   * Removes admins whose organization record no longer exists, and returns
   * how many. An admin is only ever inserted after its organization's record
   * and a delete removes the admins before the record, so an admin without a
   * record is a late insert that landed after a delete. Admins of a record
   * in any state (half created, being deleted) and the super admin (no
   * organization) are never touched.
   */
  async deleteOrphans(): Promise<number> {
    const referenced = await this.admins
      .distinct('organization_id', { organization_id: trusted({ $ne: null }) })
      .exec();
    const ids = (referenced as Array<Types.ObjectId | null>).filter(
      (id): id is Types.ObjectId => id instanceof Types.ObjectId,
    );
    let removed = 0;
    for (let i = 0; i < ids.length; i += ORPHAN_BATCH) {
      const batch = ids.slice(i, i + ORPHAN_BATCH);
      const existing = await this.organizations.existing(batch);
      const gone = batch.filter((id) => !existing.some((found) => found.equals(id)));
      if (gone.length === 0) continue;
      const { deletedCount } = await this.admins
        .deleteMany({
          organization_id: trusted({ $in: gone }),
          role: trusted({ $ne: 'superadmin' }),
        })
        .exec();
      removed += deletedCount;
    }
    return removed;
  }

  /** Frees `email` if an orphan holds it; true when it did. */
  private async deleteOrphanHolding(email: string): Promise<boolean> {
    const holder = await this.admins
      .findOne({ email }, { organization_id: 1, role: 1 })
      .lean<Holder>()
      .exec();
    if (!holder || !(await this.isOrphan(holder))) return false;
    const { deletedCount } = await this.admins
      .deleteOne({ _id: holder._id, organization_id: holder.organization_id })
      .exec();
    return deletedCount === 1;
  }

  /** An organization admin whose organization record no longer exists. */
  private async isOrphan(holder: Holder): Promise<boolean> {
    if (!holder.organization_id || holder.role === 'superadmin') return false;
    return !(await this.organizations.exists(holder.organization_id));
  }

  /**
   * The operator account: created when missing, its password re-hashed (and
   * its tokens revoked) when SUPERADMIN_PASSWORD changed. An organization
   * admin holding the email is never turned into the operator.
   */
  async ensureSuperadmin(
    email: string,
    password: string,
  ): Promise<'created' | 'unchanged' | 'password rotated'> {
    const existing = await this.admins
      .findOne({ email }, { role: 1, organization_id: 1, password_hash: 1 })
      .lean<Pick<Admin, '_id' | 'role' | 'organization_id' | 'password_hash'>>()
      .exec();
    if (!existing) {
      try {
        await this.admins.create({
          email,
          password_hash: await this.hasher.hash(password),
          organization_id: null,
          role: 'superadmin',
          credentials_version: 0,
        });
        return 'created';
      } catch (error) {
        // Another worker created it first.
        if (isDuplicateKeyError(error)) return this.ensureSuperadmin(email, password);
        throw error;
      }
    }
    if (existing.role !== 'superadmin' || existing.organization_id) {
      throw new StartupRefusedError(
        `SUPERADMIN_EMAIL (${email}) belongs to an organization admin; set SUPERADMIN_EMAIL to an address no organization uses`,
      );
    }
    if (await this.hasher.verify(password, existing.password_hash)) return 'unchanged';
    await this.updateCredentials(existing._id, { password });
    return 'password rotated';
  }

  /**
   * Deletes every super admin but `email`'s (SUPERADMIN_EMAIL changed): they
   * can no longer log in, and their tokens are refused at once because the
   * admin they name is gone. Returns the retired emails.
   */
  async retireSuperadminsExcept(email: string): Promise<string[]> {
    const previous = await this.admins
      .find({ role: 'superadmin', email: trusted({ $ne: email }) }, { email: 1 })
      .lean<Pick<Admin, '_id' | 'email'>[]>()
      .exec();
    for (const admin of previous) await this.admins.deleteOne({ _id: admin._id }).exec();
    return previous.map((admin) => admin.email);
  }

  /** Each admin of the organization with the credentials version their tokens carry. */
  async credentialsOf(
    organizationId: Types.ObjectId,
  ): Promise<{ id: Types.ObjectId; ver: number }[]> {
    const admins = await this.admins
      .find({ organization_id: organizationId }, { credentials_version: 1 })
      .lean<Pick<Admin, '_id' | 'credentials_version'>[]>()
      .exec();
    return admins.map((admin) => ({ id: admin._id, ver: admin.credentials_version }));
  }

  async deleteForOrganization(organizationId: Types.ObjectId): Promise<void> {
    await this.admins.deleteMany({ organization_id: organizationId }).exec();
  }
}
