import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { StartupRefusedError } from '../config/startup-refused.error';
import { ErrorCode } from '../common/errors/error-codes';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { PasswordHasher } from './password-hasher.service';
import { Admin, type AdminRole } from './schemas/admin.schema';

export type AdminRecord = Pick<
  Admin,
  '_id' | 'email' | 'organization_id' | 'role' | 'credentials_version'
>;
const RECORD_PROJECTION = { email: 1, organization_id: 1, role: 1, credentials_version: 1 };

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
    const password_hash = await this.hasher.hash(input.password);
    try {
      const doc = await this.admins.create({
        email: input.email,
        password_hash,
        organization_id: input.organizationId,
        role: input.role,
        credentials_version: 0,
      });
      return toRecord(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw emailTaken();
      throw error;
    }
  }

  findById(id: Types.ObjectId): Promise<AdminRecord | null> {
    return this.admins.findById(id, RECORD_PROJECTION).lean<AdminRecord>().exec();
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

  async emailInUse(email: string, exceptId?: Types.ObjectId): Promise<boolean> {
    const found = await this.admins.exists(
      exceptId ? { email, _id: trusted({ $ne: exceptId }) } : { email },
    );
    return found !== null;
  }

  /**
   * Changes email and/or password in one write and bumps the credentials
   * version, which revokes every token issued before.
   */
  async updateCredentials(
    id: Types.ObjectId,
    change: { email?: string; password?: string },
  ): Promise<AdminRecord> {
    const set: Partial<Admin> = {};
    if (change.email !== undefined) set.email = change.email;
    if (change.password !== undefined) set.password_hash = await this.hasher.hash(change.password);
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
      if (isDuplicateKeyError(error)) throw emailTaken();
      throw error;
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

  async setRole(id: Types.ObjectId, role: AdminRole): Promise<void> {
    await this.admins.updateOne({ _id: id }, { $set: { role } }).exec();
  }

  async deleteById(id: Types.ObjectId): Promise<void> {
    await this.admins.deleteOne({ _id: id }).exec();
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

  findOwner(organizationId: Types.ObjectId): Promise<AdminRecord | null> {
    return this.admins
      .findOne({ organization_id: organizationId, role: 'owner' }, RECORD_PROJECTION)
      .sort({ _id: 1 })
      .lean<AdminRecord>()
      .exec();
  }

  async deleteForOrganization(organizationId: Types.ObjectId): Promise<void> {
    await this.admins.deleteMany({ organization_id: organizationId }).exec();
  }
}
