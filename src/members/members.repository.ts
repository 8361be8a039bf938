import { Injectable } from '@nestjs/common';
import { type Model, Types, trusted } from 'mongoose';
import {
  TenantConnectionFactory,
  type TenantLocation,
} from '../database/tenant-connection.factory';
import { Member, MEMBER_MODEL, MemberSchema } from './schemas/member.schema';

export type MemberFields = Pick<Member, 'email' | 'name' | 'role' | 'metadata'>;

/**
 * The member directory of one tenant database. Every method names the
 * database it works on: the location comes from `TenantAccess`, never from
 * the request.
 */
@Injectable()
export class MembersRepository {
  constructor(private readonly tenants: TenantConnectionFactory) {}

  /** Stable order by id; `after` is the last id of the previous page. */
  async page(
    location: TenantLocation,
    query: { after?: string; limit: number },
  ): Promise<{ items: Member[]; next: string | null }> {
    const filter = query.after ? { _id: trusted({ $gt: new Types.ObjectId(query.after) }) } : {};
    // One extra document tells whether another page exists.
    const members = await this.members(location);
    const page = await members
      .find(filter)
      .sort({ _id: 1 })
      .limit(query.limit + 1)
      .lean<Member[]>()
      .exec();
    const items = page.slice(0, query.limit);
    const next = page.length > query.limit ? String(items[items.length - 1]._id) : null;
    return { items, next };
  }

  async findById(location: TenantLocation, id: Types.ObjectId): Promise<Member | null> {
    return (await this.members(location)).findById(id).lean<Member>().exec();
  }

  /** Throws the driver's duplicate-key error when the email is taken. */
  async insert(location: TenantLocation, fields: MemberFields): Promise<Member> {
    const members = await this.members(location);
    return (await members.create(fields)).toObject();
  }

  /** Sets the given fields; null when there is no such member. */
  async update(
    location: TenantLocation,
    id: Types.ObjectId,
    set: Partial<MemberFields>,
  ): Promise<Member | null> {
    const members = await this.members(location);
    const after = await setFields(members, id, set);
    if (after && set.metadata !== undefined && !sameJson(after.metadata, set.metadata)) {
      // FerretDB 1.24 skips a $set of an embedded document that holds the
      // stored one's values under other keys ({i: 2} -> {v: 2} stays
      // {i: 2}). Clearing the field first makes the second $set a change.
      await members.updateOne({ _id: id }, { $unset: { metadata: 1 } }).exec();
      return setFields(members, id, { metadata: set.metadata });
    }
    return after;
  }

  /** True when a member was removed. */
  async remove(location: TenantLocation, id: Types.ObjectId): Promise<boolean> {
    const members = await this.members(location);
    const { deletedCount } = await members.deleteOne({ _id: id }).exec();
    return deletedCount > 0;
  }

  private members(location: TenantLocation): Promise<Model<Member>> {
    return this.tenants.model<Member>(location, MEMBER_MODEL, MemberSchema);
  }
}

function setFields(
  members: Model<Member>,
  id: Types.ObjectId,
  set: Partial<Member>,
): Promise<Member | null> {
  // No projection on findAndModify: FerretDB 1.24 does not implement it.
  return members
    .findByIdAndUpdate(id, { $set: set }, { returnDocument: 'after' })
    .lean<Member>()
    .exec();
}

/** Key order included: both servers keep an embedded document's fields in the order written. */
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
