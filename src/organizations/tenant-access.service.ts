import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { DomainError, orgBusy, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { tenantLocationOf, type TenantLocation } from '../database/tenant-connection.factory';
import { TenantWriteFence } from '../database/tenant-write-fence';
import { OrganizationsRepository, type OrganizationRecord } from './organizations.repository';

/** Who asks: the organization a verified token names (null for the super admin). */
export interface TenantPrincipal {
  organizationId: Types.ObjectId | null;
  /**
   * That organization as the token check found it, live, while authenticating
   * this request: a read may use it instead of reading it again.
   */
  organization?: LiveOrganization;
}

/**
 * `read`: the organization must exist for clients (a rename in flight keeps it
 * readable). `write`: it must also be idle, since a rename or delete that holds
 * it is about to copy or drop its data.
 */
export type AccessIntent = 'read' | 'write';

/** An organization that exists for clients, with where its data lives. */
export type LiveOrganization = OrganizationRecord & { readonly location: TenantLocation };

/**
 * The one way from a caller to its organization. Members, admins, the
 * organization endpoints and the token check all ask here, so "which
 * organization is live, and may this caller read or write it" is decided once.
 */
@Injectable()
export class TenantAccess {
  constructor(
    private readonly organizations: OrganizationsRepository,
    private readonly fence: TenantWriteFence,
  ) {}

  /** The caller's organization id; the super admin belongs to none and is refused. */
  organizationIdOf(principal: TenantPrincipal | undefined): Types.ObjectId {
    if (!principal?.organizationId) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'The super admin belongs to no organization.');
    }
    return principal.organizationId;
  }

  /** The organization if it exists for clients, else null (never throws for its state). */
  async findLive(id: Types.ObjectId): Promise<LiveOrganization | null> {
    return live(await this.organizations.findById(id));
  }

  async findLiveBySlug(slug: string): Promise<LiveOrganization | null> {
    return live(await this.organizations.findBySlug(slug));
  }

  /**
   * For a read by name: the caller's own organization as this request's
   * token check already read it when the slug is its (slugs are unique, so a
   * read by slug would find that same record), else a read by slug.
   */
  async findLiveBySlugFor(
    slug: string,
    principal: TenantPrincipal | undefined,
  ): Promise<LiveOrganization | null> {
    const own = principal?.organization;
    if (own?.slug === slug) return own;
    return this.findLiveBySlug(slug);
  }

  /**
   * The caller's organization for `intent`: 403 FORBIDDEN for the super
   * admin, 404 ORG_NOT_FOUND when it is gone or not (or no longer) live,
   * 409 ORG_BUSY for a write while an operation holds it.
   */
  async organizationFor(
    principal: TenantPrincipal | undefined,
    intent: AccessIntent,
  ): Promise<LiveOrganization> {
    const org = await this.findLive(this.organizationIdOf(principal));
    if (!org) throw orgNotFound();
    if (intent === 'write' && org.pending) throw orgBusy();
    return org;
  }

  /**
   * Runs one write to the caller's organization through the tenant write
   * fence. The organization (and so the database written to) is resolved by
   * the fence's admission check, after the write's intent is registered: a
   * rename or delete recorded before that is seen there, one recorded after
   * waits for the write. `stray` cleans up after a write that landed after
   * its intent was reaped (see `TenantWriteFence.run`).
   */
  async write<T>(
    principal: TenantPrincipal | undefined,
    work: (org: LiveOrganization) => Promise<T>,
    stray?: (result: T, org: LiveOrganization) => Promise<void>,
  ): Promise<T> {
    // Refused before an intent is registered: the super admin never holds an operation up.
    const organizationId = this.organizationIdOf(principal);
    let org!: LiveOrganization;
    return this.fence.run(
      organizationId,
      async () => {
        org = await this.organizationFor(principal, 'write');
      },
      () => work(org),
      stray && ((result) => stray(result, org)),
    );
  }
}

/**
 * An organization half-created or being deleted does not exist for clients:
 * nobody can log into it or see it. A rename keeps it fully usable for reads.
 */
function live(org: OrganizationRecord | null): LiveOrganization | null {
  if (!org) return null;
  if (org.pending && org.pending.type !== 'rename') return null;
  return { ...org, location: tenantLocationOf(org) };
}
