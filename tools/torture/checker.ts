import type { MongoClient } from 'mongodb';
import {
  type HistoryEntry,
  type MemberValue,
  type RequestEntry,
  isAcknowledged,
  isRefused,
  outcomeOf,
} from './history';

// ------------------------------------------------------------------ snapshot

export interface PendingSummary {
  op_id: string;
  type: string;
  step?: string;
  fence?: number;
  target_slug?: string;
  target_database?: string;
  source_slug?: string;
  source_database?: string;
  /** A move's clusters (its databases share one name). */
  target_cluster?: string;
  source_cluster?: string;
}

export interface OrganizationState {
  id: string;
  name: string;
  slug: string;
  database_name: string;
  /** The cluster of its database; absent means `default`. */
  cluster?: string;
  pending: PendingSummary | null;
}

export interface AdminState {
  id: string;
  email: string;
  organization_id: string | null;
  role: string;
}

export interface SlugState {
  slug: string;
  organization_id: string;
}

export interface MemberState extends MemberValue {
  id: string;
  email: string;
}

export interface TenantDatabaseState {
  name: string;
  /** The cluster it was found on; absent means `default`. */
  cluster?: string;
  /**
   * The `_tenant_meta` document, or null when the database has none: its
   * owner, and the whole document as JSON for a reader of a failure.
   */
  meta: { organization_id: string | null; op_id?: string; document?: unknown } | null;
  collections: string[];
  members: MemberState[];
}

/** The run's part of the database after repair, as plain JSON. */
export interface Snapshot {
  organizations: OrganizationState[];
  admins: AdminState[];
  slugs: SlugState[];
  /** Tenant databases whose name starts with the run's prefix. */
  databases: TenantDatabaseState[];
  /** `operation_fences` entries with a fence above 1: operations a repairer took over. */
  repairClaims: number;
}

// ---------------------------------------------------------------- violations

export type ViolationKind =
  | 'record-points-nowhere'
  | 'wrong-database'
  | 'dropped-live-database'
  | 'lost-organization'
  | 'lost-acknowledged-write'
  | 'resurrected-delete'
  | 'refused-write-applied'
  | 'foreign-document'
  | 'delete-not-final'
  | 'name-not-reusable'
  | 'orphan-database'
  | 'orphan-admin'
  | 'orphan-reservation'
  | 'no-owner'
  | 'pending-operation-left'
  | 'rename-lost'
  | 'move-lost'
  | 'wrong-name'
  | 'server-error';

export interface Violation {
  kind: ViolationKind;
  /** The organization concerned, when there is one. */
  org?: string;
  details: string;
}

export interface CheckResult {
  violations: Violation[];
  checked: {
    organizations: number;
    /** Acknowledged member and admin writes whose effect was compared with the database. */
    acknowledgedWrites: number;
    acknowledgedRenames: number;
    acknowledgedMoves: number;
    acknowledgedDeletes: number;
  };
}

// --------------------------------------------------------------------- check

const MEMBER_KINDS = new Set(['member.create', 'member.update', 'member.delete']);
const ADMIN_KINDS = new Set(['admin.add', 'admin.role', 'admin.remove']);

/** One write to one member or admin, reduced to what it sets. */
interface Write {
  entry: RequestEntry;
  /** `put` sets the value (create, update, role change); `delete` removes. */
  op: 'put' | 'delete';
  isCreate: boolean;
  value?: string;
}

/**
 * Verifies the database after repair against the history of client requests.
 * Pure: same history and snapshot, same answer.
 *
 * Outcomes: a 2xx is acknowledged and must be reflected; a refused request
 * (see `isRefused`) must not be; anything else (5xx, timeout, other 4xx) may
 * or may not have happened, and because no answer bounds it, it may have
 * taken effect at any time after it was sent, including after later writes.
 */
export function check(history: readonly HistoryEntry[], snapshot: Snapshot): CheckResult {
  const violations: Violation[] = [];
  const report = (kind: ViolationKind, details: string, org?: string) =>
    violations.push(org === undefined ? { kind, details } : { kind, org, details });
  const checked = {
    organizations: 0,
    acknowledgedWrites: 0,
    acknowledgedRenames: 0,
    acknowledgedMoves: 0,
    acknowledgedDeletes: 0,
  };

  const requests = history
    .filter((e): e is RequestEntry => e.type === 'request')
    .sort((a, b) => a.seq - b.seq);
  const bySeq = new Map(requests.map((e) => [e.seq, e]));
  // Faults may cost a 503; a 500 is a bug whatever the fault.
  for (const e of requests.filter((r) => r.status === 500)) {
    report('server-error', `${e.method} ${e.path} (${e.kind}) answered 500`, e.org);
  }
  const byOrg = groupBy(
    requests.filter((e) => e.org !== undefined),
    (e) => e.org as string,
  );
  const orgById = new Map(snapshot.organizations.map((o) => [o.id, o]));
  // A database is its name on its cluster: a move's two copies share the name.
  const dbAt = new Map(snapshot.databases.map((d) => [locationKey(d.cluster, d.name), d]));
  const databaseOf = (org: OrganizationState) =>
    dbAt.get(locationKey(org.cluster, org.database_name));
  const databasesOf = (orgId: string) =>
    snapshot.databases.filter((d) => d.meta?.organization_id === orgId);

  // The create behind each organization the clients know: its 201, or the
  // unanswered create that a later login proved had succeeded.
  const createOf = new Map<string, RequestEntry>();
  for (const e of requests) {
    if (e.kind === 'org.create' && isAcknowledged(e) && e.body?.id) createOf.set(e.body.id, e);
    if (e.kind === 'login' && e.adopts !== undefined && e.org !== undefined && isAcknowledged(e)) {
      const create = bySeq.get(e.adopts);
      if (create) createOf.set(e.org, create);
    }
  }
  const entriesOf = (orgId: string, kind: string) =>
    (byOrg.get(orgId) ?? []).filter((e) => e.kind === kind && e.phase === 'run');

  // Master records: each points at its own database, nothing left pending.
  for (const org of snapshot.organizations) {
    checked.organizations += 1;
    if (org.pending) {
      report(
        'pending-operation-left',
        `${org.pending.type} operation ${org.pending.op_id} (step ${org.pending.step ?? '?'}, fence ${org.pending.fence ?? '?'}) is still pending on "${org.name}"`,
        org.id,
      );
    }
    const db = databaseOf(org);
    if (!db || !db.meta) {
      report(
        'record-points-nowhere',
        `"${org.name}" points at ${where(org.cluster, org.database_name)}, which ${db ? 'has no _tenant_meta' : 'does not exist'}`,
        org.id,
      );
    } else if (db.meta.organization_id !== org.id) {
      report(
        'wrong-database',
        `"${org.name}" points at ${where(org.cluster, org.database_name)}, whose _tenant_meta names organization ${db.meta.organization_id}`,
        org.id,
      );
    }
    if (
      isVisible(org) &&
      !snapshot.admins.some((a) => a.organization_id === org.id && a.role === 'owner')
    ) {
      report('no-owner', `"${org.name}" has no owner`, org.id);
    }
  }

  // Orphans: nothing of the run's that no organization accounts for.
  const referenced = new Set<string>();
  for (const org of snapshot.organizations) {
    const pending = org.pending;
    referenced.add(locationKey(org.cluster, org.database_name));
    if (pending?.target_database) {
      referenced.add(locationKey(pending.target_cluster ?? org.cluster, pending.target_database));
    }
    if (pending?.source_database) {
      referenced.add(locationKey(pending.source_cluster ?? org.cluster, pending.source_database));
    }
  }
  for (const db of snapshot.databases) {
    if (referenced.has(locationKey(db.cluster, db.name))) continue;
    report(
      'orphan-database',
      `${where(db.cluster, db.name)} (_tenant_meta ${db.meta ? JSON.stringify(db.meta.document ?? db.meta) : 'none'}, collections [${db.collections.join(', ')}], ${db.members.length} member(s)) is referenced by no organization`,
      db.meta?.organization_id ?? undefined,
    );
  }
  for (const admin of snapshot.admins) {
    if (admin.organization_id === null) {
      if (admin.role !== 'superadmin') {
        report('orphan-admin', `${admin.email} (${admin.role}) belongs to no organization`);
      }
    } else if (!orgById.has(admin.organization_id)) {
      report(
        'orphan-admin',
        `${admin.email} (${admin.role}) belongs to organization ${admin.organization_id}, which does not exist`,
        admin.organization_id,
      );
    }
  }
  for (const reservation of snapshot.slugs) {
    const org = orgById.get(reservation.organization_id);
    if (!org) {
      report(
        'orphan-reservation',
        `slug ${reservation.slug} is reserved for organization ${reservation.organization_id}, which does not exist`,
        reservation.organization_id,
      );
    } else if (
      org.slug !== reservation.slug &&
      org.pending?.target_slug !== reservation.slug &&
      org.pending?.source_slug !== reservation.slug
    ) {
      report(
        'orphan-reservation',
        `slug ${reservation.slug} is reserved for "${org.name}", which neither uses nor targets it (slug ${org.slug})`,
        org.id,
      );
    }
  }

  // Organizations whose fate the history decides.
  const orgIds = new Set([...byOrg.keys(), ...createOf.keys()]);
  for (const orgId of orgIds) {
    const deletes = entriesOf(orgId, 'org.delete');
    const ackedDelete = deletes.find(isAcknowledged);
    if (ackedDelete) {
      checked.acknowledgedDeletes += 1;
      const remains: string[] = [];
      if (orgById.has(orgId)) remains.push('its master record');
      for (const db of databasesOf(orgId)) remains.push(`database ${where(db.cluster, db.name)}`);
      const admins = snapshot.admins.filter((a) => a.organization_id === orgId);
      if (admins.length > 0) remains.push(`admins ${admins.map((a) => a.email).join(', ')}`);
      const slugs = snapshot.slugs.filter((s) => s.organization_id === orgId);
      if (slugs.length > 0) remains.push(`reservations ${slugs.map((s) => s.slug).join(', ')}`);
      if (remains.length > 0) {
        report(
          'delete-not-final',
          `deleted (request ${ackedDelete.seq}, ${ackedDelete.status}) but ${remains.join('; ')} remain`,
          orgId,
        );
      }
      continue;
    }
    const deleteSent = deletes.some((e) => !isRefused(e));
    if (!createOf.has(orgId) || deleteSent) continue;
    const create = createOf.get(orgId) as RequestEntry;
    if (!orgById.has(orgId)) {
      report(
        'lost-organization',
        `created (request ${create.seq}) and never deleted, but its master record is gone`,
        orgId,
      );
    }
    if (databasesOf(orgId).length === 0) {
      report(
        'dropped-live-database',
        `created (request ${create.seq}) and never deleted, but no database holds its _tenant_meta`,
        orgId,
      );
    }
  }

  // Live organizations: their data is exactly what was acknowledged.
  for (const org of snapshot.organizations) {
    if (!isVisible(org)) continue;
    const own = byOrg.get(org.id) ?? [];
    const create = createOf.get(org.id);

    // Every acknowledged member write must be in the database the
    // organization finally points at, on the cluster it finally names.
    const db = databaseOf(org);
    if (db?.meta?.organization_id === org.id) {
      const memberEntries = own.filter((e) => MEMBER_KINDS.has(e.kind) && e.subject);
      const created = new Set(
        memberEntries.filter((e) => e.kind === 'member.create').map((e) => e.subject),
      );
      const docs = new Map(db.members.map((m) => [m.email, m]));
      for (const [email, entries] of groupBy(memberEntries, (e) => e.subject as string)) {
        const writes = entries.map(memberWrite);
        const doc = docs.get(email);
        checked.acknowledgedWrites += writes.filter((w) => isAcknowledged(w.entry)).length;
        verify(`member ${email}`, writes, doc && canonicalMember(doc), (kind, details) =>
          report(kind, `${details} in ${where(db.cluster, db.name)}`, org.id),
        );
      }
      for (const doc of db.members) {
        if (!created.has(doc.email)) {
          report(
            'foreign-document',
            `${where(db.cluster, db.name)} holds member ${doc.email} ("${doc.name}"), which no request of this organization created`,
            org.id,
          );
        }
      }
    }

    const adminEntries = own.filter((e) => ADMIN_KINDS.has(e.kind) && e.subject);
    const adminWrites = groupBy(adminEntries, (e) => e.subject as string);
    if (create?.subject) {
      const ownerWrite: RequestEntry = { ...create, org: org.id, value: 'owner' };
      adminWrites.set(create.subject, [ownerWrite, ...(adminWrites.get(create.subject) ?? [])]);
    }
    const adminDocs = new Map(
      snapshot.admins.filter((a) => a.organization_id === org.id).map((a) => [a.email, a]),
    );
    for (const [email, entries] of adminWrites) {
      const writes = entries.map(adminWrite);
      checked.acknowledgedWrites += writes.filter((w) => isAcknowledged(w.entry)).length;
      verify(`admin ${email}`, writes, adminDocs.get(email)?.role, (kind, details) =>
        report(kind, details, org.id),
      );
    }
    if (create) {
      for (const admin of adminDocs.values()) {
        if (!adminWrites.has(admin.email)) {
          report(
            'foreign-document',
            `admin ${admin.email} (${admin.role}) belongs to "${org.name}", but no request of it added that admin`,
            org.id,
          );
        }
      }
    }

    const renames = own.filter(
      (e) => e.kind === 'org.rename' && e.phase === 'run' && !isRefused(e),
    );
    const lastAcked = renames.filter(isAcknowledged).at(-1);
    if (lastAcked) {
      checked.acknowledgedRenames += 1;
      const later = renames.some((e) => e.seq > lastAcked.seq);
      if (!later && org.name !== lastAcked.value) {
        report(
          'rename-lost',
          `renamed to "${describeValue(lastAcked.value)}" (request ${lastAcked.seq}, ${lastAcked.status}) and not renamed again, but is named "${org.name}"`,
          org.id,
        );
      }
    } else if (
      renames.length === 0 &&
      create &&
      isAcknowledged(create) &&
      typeof create.value === 'string' &&
      org.name !== create.value
    ) {
      report(
        'wrong-name',
        `created as "${create.value}" (request ${create.seq}) and never renamed, but is named "${org.name}"`,
        org.id,
      );
    }

    const moves = own.filter((e) => e.kind === 'org.move' && e.phase === 'run' && !isRefused(e));
    const lastMove = moves.filter(isAcknowledged).at(-1);
    if (lastMove) {
      checked.acknowledgedMoves += 1;
      const later = moves.some((e) => e.seq > lastMove.seq);
      if (!later && clusterOf(org.cluster) !== lastMove.value) {
        report(
          'move-lost',
          `moved to ${describeValue(lastMove.value)} (request ${lastMove.seq}, ${lastMove.status}) and not moved again, but is on ${clusterOf(org.cluster)}`,
          org.id,
        );
      }
    }
  }

  // After repair, a deleted organization's name and owner email are free again.
  for (const e of requests) {
    if (e.phase !== 'final' || e.kind !== 'org.create' || isAcknowledged(e)) continue;
    report(
      'name-not-reusable',
      `re-creating "${describeValue(e.value)}" with ${e.subject ?? '?'} after its organization was deleted got ${describeAnswer(e)} (request ${e.seq})`,
    );
  }

  return { violations, checked };
}

/**
 * Compares one member's or admin's final state with its writes. The final
 * state may be the last acknowledged write's, or that of any write without a
 * definite answer (it may have landed later), never that of a refused write.
 */
function verify(
  what: string,
  writes: readonly Write[],
  found: string | undefined,
  report: (kind: ViolationKind, details: string) => void,
): void {
  const last = writes.filter((w) => isAcknowledged(w.entry)).at(-1);
  const open = writes.filter((w) => outcomeOf(w.entry) === 'unknown');
  const allowed = new Set<string>();
  let absentAllowed: boolean;
  if (!last) {
    absentAllowed = true;
    for (const w of open) if (w.op === 'put' && w.value !== undefined) allowed.add(w.value);
  } else if (last.op === 'delete') {
    // Only a create brings a deleted member back.
    absentAllowed = true;
    for (const w of open) if (w.isCreate && w.value !== undefined) allowed.add(w.value);
  } else {
    absentAllowed = open.some((w) => w.op === 'delete');
    if (last.value !== undefined) allowed.add(last.value);
    for (const w of open)
      if (w.op === 'put' && !w.isCreate && w.value !== undefined) allowed.add(w.value);
  }

  const lastText = last && `${last.entry.kind} (request ${last.entry.seq}, ${last.entry.status})`;
  if (found === undefined) {
    if (!absentAllowed)
      report('lost-acknowledged-write', `${what}: acknowledged ${lastText} is missing`);
    return;
  }
  if (allowed.has(found)) return;
  if (last?.op === 'delete') {
    report('resurrected-delete', `${what}: deleted by ${lastText} but present as ${found}`);
  } else if (writes.some((w) => isRefused(w.entry) && w.value === found)) {
    const refused = writes.find((w) => isRefused(w.entry) && w.value === found) as Write;
    report(
      'refused-write-applied',
      `${what}: ${refused.entry.kind} (request ${refused.entry.seq}) was answered ${describeAnswer(refused.entry)} yet its value ${found} is there`,
    );
  } else if (last) {
    report(
      'lost-acknowledged-write',
      `${what}: acknowledged ${lastText} set ${String(last.value)}, found ${found}`,
    );
  } else {
    report('foreign-document', `${what}: holds ${found}, which no write of it set`);
  }
}

function memberWrite(entry: RequestEntry): Write {
  if (entry.kind === 'member.delete') return { entry, op: 'delete', isCreate: false };
  const value = typeof entry.value === 'object' ? canonicalMember(entry.value) : undefined;
  return { entry, op: 'put', isCreate: entry.kind === 'member.create', value };
}

function adminWrite(entry: RequestEntry): Write {
  if (entry.kind === 'admin.remove') return { entry, op: 'delete', isCreate: false };
  const value = typeof entry.value === 'string' ? entry.value : undefined;
  const isCreate = entry.kind === 'admin.add' || entry.kind === 'org.create';
  return { entry, op: 'put', isCreate, value };
}

/** A member's value as one comparable string (metadata keys sorted). */
export function canonicalMember(member: MemberValue): string {
  const metadata = Object.fromEntries(
    Object.entries(member.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify({ name: member.name, role: member.role, metadata });
}

function isVisible(org: OrganizationState): boolean {
  return org.pending === null || org.pending.type === 'rename' || org.pending.type === 'move';
}

const clusterOf = (cluster: string | undefined) => cluster ?? 'default';

/** Database names hold no `/`, so the key is unambiguous. */
const locationKey = (cluster: string | undefined, name: string) => `${clusterOf(cluster)}/${name}`;

/** A database for a reader: its name, and its cluster when that is not `default`. */
const where = (cluster: string | undefined, name: string) =>
  clusterOf(cluster) === 'default' ? name : `${name} on ${cluster}`;

function describeValue(value: RequestEntry['value']): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function describeAnswer(entry: RequestEntry): string {
  if (entry.status === null) return entry.error ?? 'no answer';
  return entry.code ? `${entry.status} ${entry.code}` : String(entry.status);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

// ------------------------------------------------------------ reading state

const TENANT_META = '_tenant_meta';
const MEMBERS = 'members';

/** An ObjectId (or a string id) as its hex string; null stays null. */
const idOf = (value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  const hex = (value as { toHexString?: () => string }).toHexString?.();
  return hex ?? JSON.stringify(value);
};

/**
 * Reads the run's state: the master database and every tenant database whose
 * name starts with `databasePrefix` (the run's own, so a shared server's
 * other databases are not mistaken for orphans), on `client`'s server
 * (`default`) and on each of `clusters`.
 */
export async function readSnapshot(
  client: MongoClient,
  masterDatabase: string,
  databasePrefix: string,
  clusters: Readonly<Record<string, MongoClient>> = {},
): Promise<Snapshot> {
  const master = client.db(masterDatabase);
  const organizations = (await master.collection('organizations').find({}).toArray()).map(
    (o): OrganizationState => {
      const pending = o.pending as Record<string, unknown> | null | undefined;
      return {
        id: String(o._id),
        name: String(o.name),
        slug: String(o.slug),
        database_name: String(o.database_name),
        ...(typeof o.cluster === 'string' ? { cluster: o.cluster } : {}),
        pending: pending
          ? {
              op_id: String(pending.op_id),
              type: String(pending.type),
              ...pick(pending, [
                'step',
                'target_slug',
                'target_database',
                'source_slug',
                'source_database',
                'target_cluster',
                'source_cluster',
              ]),
              ...(typeof pending.fence === 'number' ? { fence: pending.fence } : {}),
            }
          : null,
      };
    },
  );
  const admins = (await master.collection('admins').find({}).toArray()).map((a): AdminState => ({
    id: String(a._id),
    email: String(a.email),
    organization_id: idOf(a.organization_id),
    role: String(a.role),
  }));
  const slugs = (await master.collection('organization_slugs').find({}).toArray()).map(
    (s): SlugState => ({ slug: String(s._id), organization_id: String(idOf(s.organization_id)) }),
  );
  const repairClaims = await master
    .collection('operation_fences')
    .countDocuments({ fence: { $gt: 1 } });

  const databases: TenantDatabaseState[] = [];
  for (const [cluster, server] of Object.entries({ default: client, ...clusters })) {
    databases.push(...(await readTenantDatabases(server, databasePrefix, cluster)));
  }
  return { organizations, admins, slugs, databases, repairClaims };
}

async function readTenantDatabases(
  client: MongoClient,
  databasePrefix: string,
  cluster: string,
): Promise<TenantDatabaseState[]> {
  const listed = await client.db().admin().listDatabases({ nameOnly: true });
  const names = listed.databases
    .map((d) => d.name)
    .filter((name) => name.startsWith(databasePrefix))
    .sort();
  const databases: TenantDatabaseState[] = [];
  for (const name of names) {
    const db = client.db(name);
    const collections = (await db.listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .sort();
    const metaDoc = collections.includes(TENANT_META)
      ? await db.collection(TENANT_META).findOne({})
      : null;
    const members = collections.includes(MEMBERS)
      ? (await db.collection(MEMBERS).find({}).toArray()).map((m): MemberState => ({
          id: String(m._id),
          email: String(m.email),
          name: String(m.name),
          role: String(m.role),
          metadata: (m.metadata ?? {}) as MemberValue['metadata'],
        }))
      : [];
    databases.push({
      name,
      ...(cluster === 'default' ? {} : { cluster }),
      meta: metaDoc
        ? {
            organization_id: idOf(metaDoc.organization_id),
            ...(metaDoc.op_id !== undefined ? { op_id: String(metaDoc.op_id) } : {}),
            document: JSON.parse(JSON.stringify(metaDoc)) as unknown,
          }
        : null,
      collections,
      members,
    });
  }
  return databases;
}

function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}
