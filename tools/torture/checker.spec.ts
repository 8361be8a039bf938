import { check, type Snapshot, type ViolationKind } from './checker';
import type { HistoryEntry, MemberValue, RequestEntry, RequestKind } from './history';

const ORG_A = '64a000000000000000000001';
const ORG_B = '64b000000000000000000002';
const ORG_C = '64c000000000000000000003';

const member = (name: string, version: number): MemberValue => ({
  name: `${name} v${version}`,
  role: 'member',
  metadata: { version, team: 'red' },
});

/**
 * A small history that exercises every rule without breaking one: A is
 * created, renamed, gets members and an admin; B is created and deleted; C is
 * B's name created again after repair.
 */
function scenario(): { history: RequestEntry[]; snapshot: Snapshot } {
  let seq = 0;
  const req = (
    kind: RequestKind,
    status: number | null,
    fields: Partial<RequestEntry> = {},
  ): RequestEntry => {
    seq += 1;
    return {
      type: 'request',
      seq,
      client: 'c0',
      process: 0,
      phase: 'run',
      kind,
      method: 'POST',
      path: '/',
      start: seq * 10,
      end: seq * 10 + 5,
      status,
      ...fields,
    };
  };
  const history: RequestEntry[] = [
    req('org.create', 201, { subject: 'owner-a@x.test', value: 'T Alpha', body: { id: ORG_A } }),
    req('org.rename', 200, { org: ORG_A, value: 'T Beta' }),
    req('member.create', 201, { org: ORG_A, subject: 'm1@x.test', value: member('m1', 0) }),
    req('member.update', 200, { org: ORG_A, subject: 'm1@x.test', value: member('m1', 1) }),
    req('member.create', 201, { org: ORG_A, subject: 'm2@x.test', value: member('m2', 0) }),
    req('member.delete', 204, { org: ORG_A, subject: 'm2@x.test' }),
    // No answer: either outcome is fine.
    req('member.create', null, {
      org: ORG_A,
      subject: 'm3@x.test',
      value: member('m3', 0),
      error: 'timeout',
    }),
    req('member.update', 409, {
      org: ORG_A,
      subject: 'm1@x.test',
      value: member('m1', 2),
      code: 'ORG_BUSY',
    }),
    req('admin.add', 201, { org: ORG_A, subject: 'admin-a@x.test', value: 'admin' }),
    req('org.create', 201, { subject: 'owner-b@x.test', value: 'T Gamma', body: { id: ORG_B } }),
    req('member.create', 201, { org: ORG_B, subject: 'mb@x.test', value: member('mb', 0) }),
    req('org.delete', 200, { org: ORG_B }),
    req('org.create', 201, {
      phase: 'final',
      client: 'final',
      subject: 'owner-b@x.test',
      value: 'T Gamma',
      body: { id: ORG_C },
    }),
  ];
  const snapshot: Snapshot = {
    organizations: [
      { id: ORG_A, name: 'T Beta', slug: 't_beta', database_name: 'org_t_beta', pending: null },
      { id: ORG_C, name: 'T Gamma', slug: 't_gamma', database_name: 'org_t_gamma', pending: null },
    ],
    admins: [
      { id: 'ad1', email: 'owner-a@x.test', organization_id: ORG_A, role: 'owner' },
      { id: 'ad2', email: 'admin-a@x.test', organization_id: ORG_A, role: 'admin' },
      { id: 'ad3', email: 'owner-b@x.test', organization_id: ORG_C, role: 'owner' },
      { id: 'ad0', email: 'operator@x.test', organization_id: null, role: 'superadmin' },
    ],
    slugs: [
      { slug: 't_beta', organization_id: ORG_A },
      { slug: 't_gamma', organization_id: ORG_C },
    ],
    databases: [
      {
        name: 'org_t_beta',
        meta: { organization_id: ORG_A },
        collections: ['_tenant_meta', 'members'],
        members: [{ id: 'mm1', email: 'm1@x.test', ...member('m1', 1) }],
      },
      {
        name: 'org_t_gamma',
        meta: { organization_id: ORG_C },
        collections: ['_tenant_meta'],
        members: [],
      },
    ],
    repairClaims: 0,
  };
  return { history, snapshot };
}

const kinds = (history: readonly HistoryEntry[], snapshot: Snapshot): ViolationKind[] =>
  check(history, snapshot).violations.map((v) => v.kind);

const dbA = (s: Snapshot) => s.databases.find((d) => d.name === 'org_t_beta')!;
const orgA = (s: Snapshot) => s.organizations.find((o) => o.id === ORG_A)!;

describe('torture checker', () => {
  it('reports nothing for a history the database agrees with', () => {
    const { history, snapshot } = scenario();
    const result = check(history, snapshot);
    expect(result.violations).toEqual([]);
    // m1 create and update, m2 create and delete, the admin add, A's and C's owners.
    expect(result.checked.acknowledgedWrites).toBe(7);
    expect(result.checked.acknowledgedRenames).toBe(1);
    expect(result.checked.acknowledgedDeletes).toBe(1);
  });

  it('accepts either outcome of a write that got no answer', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members.push({ id: 'mm3', email: 'm3@x.test', ...member('m3', 0) });
    expect(kinds(history, snapshot)).toEqual([]);
  });

  it('accepts a write without an answer landing after a later acknowledged one', () => {
    const { history, snapshot } = scenario();
    const late = { ...history[3], seq: 3.5, status: null, error: 'timeout' as const };
    late.value = member('m1', 7);
    dbA(snapshot).members[0] = { id: 'mm1', email: 'm1@x.test', ...member('m1', 7) };
    expect(kinds([...history, late], snapshot)).toEqual([]);
  });

  it('reports a lost acknowledged member write (member missing)', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members = [];
    expect(kinds(history, snapshot)).toEqual(['lost-acknowledged-write']);
  });

  it('reports a lost acknowledged member update (an older value won)', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members[0] = { id: 'mm1', email: 'm1@x.test', ...member('m1', 0) };
    const result = check(history, snapshot);
    expect(result.violations.map((v) => v.kind)).toEqual(['lost-acknowledged-write']);
    expect(result.violations[0].details).toContain('m1@x.test');
  });

  it('reports a lost acknowledged admin write', () => {
    const { history, snapshot } = scenario();
    snapshot.admins = snapshot.admins.filter((a) => a.email !== 'admin-a@x.test');
    expect(kinds(history, snapshot)).toEqual(['lost-acknowledged-write']);
  });

  it('reports a write answered 409 ORG_BUSY that was applied anyway', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members[0] = { id: 'mm1', email: 'm1@x.test', ...member('m1', 2) };
    expect(kinds(history, snapshot)).toEqual(['refused-write-applied']);
  });

  it('reports a resurrected delete', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members.push({ id: 'mm2', email: 'm2@x.test', ...member('m2', 0) });
    expect(kinds(history, snapshot)).toEqual(['resurrected-delete']);
  });

  it("reports foreign documents in a tenant database (another organization's member)", () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).members.push({ id: 'mmb', email: 'mb@x.test', ...member('mb', 0) });
    expect(kinds(history, snapshot)).toEqual(['foreign-document']);
  });

  it('reports an admin that no request of the organization added', () => {
    const { history, snapshot } = scenario();
    snapshot.admins.push({
      id: 'adx',
      email: 'stray@x.test',
      organization_id: ORG_A,
      role: 'admin',
    });
    expect(kinds(history, snapshot)).toEqual(['foreign-document']);
  });

  it('reports a dropped live database', () => {
    const { history, snapshot } = scenario();
    snapshot.databases = snapshot.databases.filter((d) => d.name !== 'org_t_beta');
    const found = kinds(history, snapshot);
    expect(found).toContain('dropped-live-database');
    expect(found).toContain('record-points-nowhere');
  });

  it('reports a record pointing nowhere (its data left elsewhere)', () => {
    const { history, snapshot } = scenario();
    orgA(snapshot).database_name = 'org_t_delta';
    expect(kinds(history, snapshot).sort()).toEqual(['orphan-database', 'record-points-nowhere']);
  });

  it("reports a record pointing at another organization's database", () => {
    const { history, snapshot } = scenario();
    orgA(snapshot).database_name = 'org_t_gamma';
    expect(kinds(history, snapshot)).toContain('wrong-database');
  });

  it('reports a record whose database has no _tenant_meta', () => {
    const { history, snapshot } = scenario();
    dbA(snapshot).meta = null;
    // Nothing else proves the data is this organization's either.
    expect(kinds(history, snapshot).sort()).toEqual([
      'dropped-live-database',
      'record-points-nowhere',
    ]);
  });

  it('reports an organization whose master record vanished without a delete', () => {
    const { history, snapshot } = scenario();
    snapshot.organizations = snapshot.organizations.filter((o) => o.id !== ORG_A);
    const found = kinds(history, snapshot);
    expect(found).toContain('lost-organization');
    expect(found).toContain('orphan-database');
  });

  it('reports a 500 whatever the request did (a fault may cost a 503, never a 500)', () => {
    const { history, snapshot } = scenario();
    const unanswered = history.find((e) => e.status === null)!;
    history.push({
      ...unanswered,
      seq: 999,
      status: 500,
      error: undefined,
      code: 'INTERNAL_ERROR',
    });
    expect(kinds(history, snapshot)).toEqual(['server-error']);
  });

  it('reports an orphan database', () => {
    const { history, snapshot } = scenario();
    snapshot.databases.push({
      name: 'org_t_zeta',
      meta: null,
      collections: ['members'],
      members: [{ id: 'z', email: 'late@x.test', ...member('late', 0) }],
    });
    expect(kinds(history, snapshot)).toEqual(['orphan-database']);
  });

  it('reports an orphan admin (of no organization, or of one that does not exist)', () => {
    const { history, snapshot } = scenario();
    snapshot.admins.push({ id: 'o1', email: 'lost@x.test', organization_id: null, role: 'admin' });
    snapshot.admins.push({
      id: 'o2',
      email: 'gone@x.test',
      organization_id: '64f000000000000000000009',
      role: 'owner',
    });
    expect(kinds(history, snapshot)).toEqual(['orphan-admin', 'orphan-admin']);
  });

  it('reports an orphan reservation (organization missing, or slug neither used nor targeted)', () => {
    const { history, snapshot } = scenario();
    snapshot.slugs.push({ slug: 't_eta', organization_id: '64f000000000000000000009' });
    snapshot.slugs.push({ slug: 't_theta', organization_id: ORG_A });
    expect(kinds(history, snapshot)).toEqual(['orphan-reservation', 'orphan-reservation']);
  });

  it("does not count a rename's target reservation as an orphan while the rename is recorded", () => {
    const { history, snapshot } = scenario();
    snapshot.slugs.push({ slug: 't_theta', organization_id: ORG_A });
    orgA(snapshot).pending = { op_id: 'op1', type: 'rename', target_slug: 't_theta' };
    expect(kinds(history, snapshot)).toEqual(['pending-operation-left']);
  });

  it('reports an organization without an owner', () => {
    const { history, snapshot } = scenario();
    // The demotion got no answer, so the owner may be an admin now; no owner is left either way.
    const demote: RequestEntry = {
      ...history[8],
      seq: 100,
      kind: 'admin.role',
      subject: 'owner-a@x.test',
      value: 'admin',
      status: null,
      error: 'timeout',
    };
    snapshot.admins.find((a) => a.email === 'owner-a@x.test')!.role = 'admin';
    expect(kinds([...history, demote], snapshot)).toEqual(['no-owner']);
  });

  it('reports a pending operation left after repair', () => {
    const { history, snapshot } = scenario();
    orgA(snapshot).pending = { op_id: 'op9', type: 'delete', step: 'dropping', fence: 2 };
    expect(kinds(history, snapshot)).toContain('pending-operation-left');
  });

  it('reports a delete that left something behind', () => {
    const { history, snapshot } = scenario();
    snapshot.databases.push({
      name: 'org_t_gamma_old',
      meta: { organization_id: ORG_B },
      collections: ['_tenant_meta', 'members'],
      members: [],
    });
    snapshot.slugs.push({ slug: 't_gamma_old', organization_id: ORG_B });
    const result = check(history, snapshot);
    expect(result.violations.map((v) => v.kind).sort()).toEqual([
      'delete-not-final',
      'orphan-database',
      'orphan-reservation',
    ]);
    const final = result.violations.find((v) => v.kind === 'delete-not-final')!;
    expect(final.org).toBe(ORG_B);
    expect(final.details).toContain('org_t_gamma_old');
  });

  it("reports a deleted organization's name that cannot be created again", () => {
    const { history, snapshot } = scenario();
    history[12] = { ...history[12], status: 409, code: 'CONFLICT', body: undefined };
    snapshot.organizations = snapshot.organizations.filter((o) => o.id !== ORG_C);
    snapshot.databases = snapshot.databases.filter((d) => d.name !== 'org_t_gamma');
    snapshot.slugs = snapshot.slugs.filter((s) => s.organization_id !== ORG_C);
    snapshot.admins = snapshot.admins.filter((a) => a.organization_id !== ORG_C);
    expect(kinds(history, snapshot)).toEqual(['name-not-reusable']);
  });

  it('reports a lost rename', () => {
    const { history, snapshot } = scenario();
    orgA(snapshot).name = 'T Alpha';
    expect(kinds(history, snapshot)).toEqual(['rename-lost']);
  });

  it('allows any name once another rename was sent after the acknowledged one', () => {
    const { history, snapshot } = scenario();
    const later: RequestEntry = { ...history[1], seq: 50, value: 'T Delta', status: 503 };
    orgA(snapshot).name = 'T Delta';
    expect(kinds([...history, later], snapshot)).toEqual([]);
  });

  describe('moves between clusters', () => {
    /** A moved to c1 (acknowledged): its record and its one database say c1. */
    function moved(): { history: RequestEntry[]; snapshot: Snapshot } {
      const { history, snapshot } = scenario();
      const move: RequestEntry = { ...history[1], seq: 8.5, kind: 'org.move', value: 'c1' };
      orgA(snapshot).cluster = 'c1';
      dbA(snapshot).cluster = 'c1';
      return { history: [...history, move], snapshot };
    }

    it('finds every acknowledged member write on the cluster the organization ends up on', () => {
      const { history, snapshot } = moved();
      const result = check(history, snapshot);
      expect(result.violations).toEqual([]);
      expect(result.checked.acknowledgedMoves).toBe(1);
      expect(result.checked.acknowledgedWrites).toBe(7);
    });

    it('reports a write missing on the new cluster even if the old copy holds it', () => {
      const { history, snapshot } = moved();
      snapshot.databases.push({ ...dbA(snapshot), cluster: undefined });
      dbA(snapshot).members = [];
      expect(kinds(history, snapshot)).toEqual(['orphan-database', 'lost-acknowledged-write']);
    });

    it('reports a record naming a cluster its database is not on', () => {
      const { history, snapshot } = moved();
      dbA(snapshot).cluster = 'c2';
      expect(kinds(history, snapshot)).toContain('record-points-nowhere');
    });

    it('reports a lost move, and allows any cluster once another move was sent', () => {
      const { history, snapshot } = moved();
      orgA(snapshot).cluster = undefined;
      dbA(snapshot).cluster = undefined;
      expect(kinds(history, snapshot)).toEqual(['move-lost']);
      const later: RequestEntry = { ...history.at(-1)!, seq: 60, value: 'c2', status: null };
      expect(kinds([...history, later], snapshot)).toEqual([]);
    });

    it("does not count a move's target copy as an orphan while the move is recorded", () => {
      const { history, snapshot } = scenario();
      orgA(snapshot).pending = {
        op_id: 'op1',
        type: 'move',
        target_database: 'org_t_beta',
        target_cluster: 'c2',
        source_database: 'org_t_beta',
      };
      snapshot.databases.push({ ...dbA(snapshot), cluster: 'c2' });
      expect(kinds(history, snapshot)).toEqual(['pending-operation-left']);
    });

    it('counts a move answered 409 ALREADY_THERE as refused', () => {
      const { history, snapshot } = scenario();
      const refused: RequestEntry = {
        ...history[1],
        seq: 8.5,
        kind: 'org.move',
        value: 'c1',
        status: 409,
        code: 'ALREADY_THERE',
      };
      expect(kinds([...history, refused], snapshot)).toEqual([]);
    });
  });
});
