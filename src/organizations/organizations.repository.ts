import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { Organization, SlugReservation } from './schemas/organization.schema';

export type OrganizationRecord = Organization;

/**
 * Master-database reads of organizations. Writes that are protocol steps live
 * in `lifecycle/`, one class per operation, so each step sits next to its repair.
 */
@Injectable()
export class OrganizationsRepository implements OnModuleInit {
  constructor(
    @InjectModel(Organization.name) readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) readonly slugs: Model<SlugReservation>,
  ) {}

  async onModuleInit(): Promise<void> {
    await Promise.all([this.organizations.createIndexes(), this.slugs.createIndexes()]);
  }

  findById(id: Types.ObjectId): Promise<OrganizationRecord | null> {
    return this.organizations.findById(id).lean<OrganizationRecord>().exec();
  }

  findBySlug(slug: string): Promise<OrganizationRecord | null> {
    return this.organizations.findOne({ slug }).lean<OrganizationRecord>().exec();
  }
}

/**
 * An organization half-created or being deleted does not exist for clients:
 * nobody can log into it or see it. A rename keeps it fully usable for reads.
 */
export function isVisible(org: Pick<Organization, 'pending'> | null): boolean {
  if (!org) return false;
  return org.pending === null || org.pending.type === 'rename';
}
