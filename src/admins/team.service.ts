import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgBusy } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { LockBusyError, MutexService } from '../database/mutex.service';
import { TenantAccess } from '../organizations/tenant-access.service';
import { AdminsService, type AdminRecord } from './admins.service';
import type { AssignableRole, CreateAdminDto } from './dto/create-admin.dto';

/** How long the team mutex stays held if its holder stops answering. */
const TEAM_LOCK_TTL_MS = 10_000;

const ownersOnly = () =>
  new DomainError(ErrorCode.FORBIDDEN, 'Only an owner of the organization may manage admins.');
const lastOwner = () =>
  new DomainError(ErrorCode.LAST_OWNER, 'An organization must keep at least one owner.');
const adminNotFound = () =>
  new DomainError(ErrorCode.ADMIN_NOT_FOUND, 'No admin with this id in your organization.');

/**
 * The organization's admins and their roles (`/org/admins`).
 *
 * Every change is an organization-scoped write, so it goes through the
 * tenant write fence: refused while a rename or delete holds the
 * organization, and waited for by a delete that starts meanwhile.
 *
 * The last owner is kept in two layers. Changes run under the team mutex and
 * read the target and count the owners inside it, so two owners demoting each
 * other at once cannot both pass the check (a conditional update alone is not
 * atomic on FerretDB). But a holder can be paused (GC, SIGSTOP) past the
 * mutex's TTL while another change runs; so after a demotion or removal the
 * owners are counted again, and a change that left none is undone and
 * answered 409 LAST_OWNER. Only restoring is ever done on that path, so
 * concurrent undos cannot take the count below one.
 */
@Injectable()
export class TeamService {
  constructor(
    private readonly admins: AdminsService,
    private readonly access: TenantAccess,
    private readonly audit: AuditService,
    private readonly mutex: MutexService,
  ) {}

  async list(viewer: AuthenticatedAdmin): Promise<AdminRecord[]> {
    const org = await this.access.organizationFor(viewer, 'read');
    return this.admins.listForOrganization(org._id);
  }

  async add(context: RequestContext, dto: CreateAdminDto): Promise<AdminRecord> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = this.access.organizationIdOf(viewer);
    if (viewer.role !== 'owner') throw ownersOnly();
    // Hashed before the fence: bcrypt's deliberate slowness would otherwise
    // eat into the time the write's intent holds a rename or delete off.
    const passwordHash = await this.admins.hashPassword(dto.password);
    const admin = await this.access.write(viewer, () =>
      this.admins.insert({ organizationId, email: dto.email, passwordHash, role: dto.role }),
    );
    await this.audit.record(context, {
      action: 'admin.added',
      organizationId,
      details: { admin_id: String(admin._id), email: admin.email, role: admin.role },
    });
    return admin;
  }

  async changeRole(
    context: RequestContext,
    id: Types.ObjectId,
    role: AssignableRole,
  ): Promise<AdminRecord> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = this.access.organizationIdOf(viewer);
    if (viewer.role !== 'owner') throw ownersOnly();
    const { before, changed } = await this.teamWrite(viewer, async (assertLockHeld) => {
      const target = await this.admins.findInOrganization(organizationId, id);
      if (!target) throw adminNotFound();
      if (target.role === role) return { before: target, changed: false };
      if (target.role === 'owner' && !(await this.admins.hasOwner(organizationId, id))) {
        throw lastOwner();
      }
      assertLockHeld();
      const previous = await this.admins.setRole(organizationId, id, role);
      if (!previous) throw adminNotFound();
      if (previous.role === 'owner' && !(await this.admins.hasOwner(organizationId))) {
        // Another change ran while this holder was paused past the lock's
        // life, and together they left no owner: take ours back.
        await this.admins.setRole(organizationId, id, 'owner');
        throw lastOwner();
      }
      return { before: previous, changed: true };
    });
    if (!changed) return before;
    await this.audit.record(context, {
      action: 'admin.role_changed',
      organizationId,
      details: { admin_id: String(id), from: before.role, to: role },
    });
    return { ...before, role };
  }

  /** Owners remove anyone; an admin may remove only themself. */
  async remove(context: RequestContext, id: Types.ObjectId): Promise<void> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = this.access.organizationIdOf(viewer);
    if (viewer.role !== 'owner' && !viewer.adminId.equals(id)) throw ownersOnly();
    const removed = await this.teamWrite(viewer, async (assertLockHeld) => {
      const target = await this.admins.findInOrganization(organizationId, id);
      if (!target) throw adminNotFound();
      if (target.role === 'owner' && !(await this.admins.hasOwner(organizationId, id))) {
        throw lastOwner();
      }
      assertLockHeld();
      // Deleting the admin revokes every token it holds: sessions are checked
      // against the admin record on each request.
      const gone = await this.admins.remove(organizationId, id);
      if (!gone) throw adminNotFound();
      if (gone.role === 'owner' && !(await this.admins.hasOwner(organizationId))) {
        // As above; the role is the one it had when deleted, not when read.
        await this.admins.restore(gone);
        throw lastOwner();
      }
      return gone;
    });
    await this.audit.record(context, {
      action: 'admin.removed',
      organizationId,
      details: { admin_id: String(id), email: removed.email, role: removed.role },
    });
  }

  /**
   * Runs one team change under the organization's team mutex and through the
   * tenant write fence. `work` calls `assertLockHeld()` right before its
   * write: self-fencing on the local clock, so a holder that was paused for
   * most of the lock's life gives up (409 ORG_BUSY, nothing written) rather
   * than act on reads another holder may already have invalidated. The lock
   * expires TTL after a clock reading taken just before the insert that won
   * it, so measuring from here, and stopping at half, stays on the safe side.
   */
  private async teamWrite<T>(
    viewer: AuthenticatedAdmin,
    work: (assertLockHeld: () => void) => Promise<T>,
  ): Promise<T> {
    const organizationId = this.access.organizationIdOf(viewer);
    try {
      return await this.mutex.withLock(
        `team:${String(organizationId)}`,
        () => {
          const acquiredAt = Date.now();
          const assertLockHeld = () => {
            if (Date.now() - acquiredAt > TEAM_LOCK_TTL_MS / 2) throw orgBusy();
          };
          return this.access.write(viewer, () => work(assertLockHeld));
        },
        { ttlMs: TEAM_LOCK_TTL_MS },
      );
    } catch (error) {
      if (error instanceof LockBusyError) throw orgBusy();
      throw error;
    }
  }
}
