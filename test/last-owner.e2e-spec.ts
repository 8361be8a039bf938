import type { Query } from 'mongoose';
import { Types } from 'mongoose';
import { AdminSchema } from '../src/admins/schemas/admin.schema';
import { apiClient, expectProblem, type AdminSession, type Api, type ApiClient } from './utils/api';
import { createOrg, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

/** A promise the test settles by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * Holds the next write of one kind on one admin just before it reaches the
 * database, the way a GC pause or SIGSTOP would hold the process: the
 * middleware runs inside the service's write call, after every check.
 */
interface Pause {
  adminId: string;
  kind: 'update' | 'delete';
  reached: ReturnType<typeof gate>;
  release: ReturnType<typeof gate>;
}
let pause: Pause | null = null;

function pauseHere(kind: Pause['kind']) {
  return async function (this: Query<unknown, unknown>) {
    const p = pause;
    if (!p || p.kind !== kind || String(this.getFilter()._id) !== p.adminId) return;
    pause = null;
    p.reached.open();
    await p.release.opened;
  };
}
const QUERY_ONLY = { document: false, query: true } as const;
AdminSchema.pre('updateOne', QUERY_ONLY, pauseHere('update'));
AdminSchema.pre('findOneAndUpdate', QUERY_ONLY, pauseHere('update'));
AdminSchema.pre('deleteOne', QUERY_ONLY, pauseHere('delete'));
AdminSchema.pre('findOneAndDelete', QUERY_ONLY, pauseHere('delete'));

function pauseNext(adminId: string, kind: Pause['kind']): Pause {
  pause = { adminId, kind, reached: gate(), release: gate() };
  return pause;
}

interface Member {
  id: string;
  api: ApiClient;
}

describe('An organization keeps at least one owner under any concurrency (e2e)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = apiClient(t);
  });
  afterEach(() => {
    pause = null;
  });
  afterAll(async () => {
    await t.close();
  });

  const admins = () => t.master.db!.collection('admins');
  const ownerCount = (org: OrgFixture) =>
    admins().countDocuments({ organization_id: new Types.ObjectId(org.id), role: 'owner' });

  async function addAdmin(
    org: OrgFixture,
    role: 'owner' | 'admin',
    by: ApiClient = org.owner,
  ): Promise<AdminSession> {
    const email = `${role}-${uniqueSuffix()}@example.test`;
    await by.admins.add({ email, password: PASSWORD, role }).expect(201);
    return api.loginAs(email, PASSWORD);
  }

  /**
   * The holder of the team mutex is held past the mutex's life: its lock
   * document is removed, exactly what a contender does once it has expired.
   */
  async function expireTeamLock(org: OrgFixture) {
    const { deletedCount } = await t.master
      .db!.collection('locks')
      .deleteOne({ _id: `team:${org.id}` as never });
    expect(deletedCount).toBe(1);
  }

  it('undoes a demotion that resumed after its mutex expired and another owner left (409 LAST_OWNER)', async () => {
    const org = await createOrg(t, 'Paused demotion');
    const other = await addAdmin(org, 'owner');
    const paused = pauseNext(org.adminId, 'update');
    const first = other.admins.setRole(org.adminId, 'admin').then((res) => res);
    await paused.reached.opened;
    await expireTeamLock(org);
    // Meanwhile the other owner is demoted: the first owner still is one.
    await org.owner.admins.setRole(other.adminId, 'admin').expect(200);
    paused.release.open();
    expectProblem(await first, 409, 'LAST_OWNER');
    expect(await ownerCount(org)).toBe(1);
    const list = await org.owner.admins.list().expect(200);
    expect(list.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: org.adminId, role: 'owner' }),
        expect.objectContaining({ id: other.adminId, role: 'admin' }),
      ]),
    );
  });

  it('re-inserts, exactly, an owner whose removal resumed after its mutex expired and another owner left', async () => {
    const org = await createOrg(t, 'Paused removal');
    const other = await addAdmin(org, 'owner');
    const before = await admins().findOne({ _id: new Types.ObjectId(org.adminId) });
    const paused = pauseNext(org.adminId, 'delete');
    const first = other.admins.remove(org.adminId).then((res) => res);
    await paused.reached.opened;
    await expireTeamLock(org);
    await org.owner.admins.remove(other.adminId).expect(204);
    paused.release.open();
    expectProblem(await first, 409, 'LAST_OWNER');
    // The same document, password hash, credentials version and timestamps
    // included: the owner's tokens and password work as before.
    expect(await admins().findOne({ _id: new Types.ObjectId(org.adminId) })).toEqual(before);
    expect(await ownerCount(org)).toBe(1);
    await org.owner.admins.list().expect(200);
    await api.login(org.email, PASSWORD).expect(200);
  });

  it('keeps an owner through rounds of concurrent promotions, demotions and removals', async () => {
    const ROUNDS = 50;
    const org = await createOrg(t, 'Owners');
    const orgId = new Types.ObjectId(org.id);
    let team: Member[] = [{ id: org.adminId, api: org.owner }];
    const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];
    const roles = async () => {
      const docs = await admins().find({ organization_id: orgId }).toArray();
      return new Map(docs.map((d) => [String(d._id), d.role as string]));
    };
    const unexpected: string[] = [];
    const allowed = [
      '200',
      '204',
      '401 UNAUTHORIZED', // the acting admin was removed meanwhile
      '403 FORBIDDEN', // the acting owner was demoted meanwhile
      '404 ADMIN_NOT_FOUND', // the target was removed meanwhile
      '409 LAST_OWNER',
      '409 ORG_BUSY', // waited too long for the team mutex
    ];

    for (let round = 0; round < ROUNDS; round += 1) {
      // Four admins, three or four of them owners, at the start of a round.
      let current = await roles();
      team = team.filter((m) => current.has(m.id));
      const owner = team.find((m) => current.get(m.id) === 'owner');
      if (!owner) throw new Error(`round ${round} began without an owner`);
      while (team.length < 4) {
        const added = await addAdmin(org, 'admin', owner.api);
        team.push({ id: added.adminId, api: added });
      }
      const wanted = 3 + (round % 2);
      current = await roles();
      for (const m of team) {
        if ([...current.values()].filter((r) => r === 'owner').length >= wanted) break;
        if (current.get(m.id) === 'owner') continue;
        await owner.api.admins.setRole(m.id, 'owner').expect(200);
        current.set(m.id, 'owner');
      }

      // Every owner tries to leave (demoted or removed) and every admin is
      // promoted and, at the same time, possibly removed; each by some owner.
      const owners = team.filter((m) => current.get(m.id) === 'owner');
      const requests: Array<Promise<{ status: number; body: { code?: string } }>> = [];
      const byAnOwner = () => pick(owners).api.admins;
      const send = (req: PromiseLike<{ status: number; body: { code?: string } }>) =>
        requests.push(Promise.resolve(req));
      for (const m of team) {
        if (current.get(m.id) === 'owner') {
          if (Math.random() < 0.5) send(byAnOwner().setRole(m.id, 'admin'));
          else send(byAnOwner().remove(m.id));
        } else {
          send(byAnOwner().setRole(m.id, 'owner'));
          if (Math.random() < 0.7) send(byAnOwner().remove(m.id));
        }
      }
      const answers = await Promise.all(requests);
      for (const a of answers) {
        const outcome = a.status < 300 ? String(a.status) : `${a.status} ${a.body.code}`;
        if (!allowed.includes(outcome)) unexpected.push(`round ${round}: ${outcome}`);
      }
      const left = await ownerCount(org);
      if (left < 1) throw new Error(`round ${round} left the organization without an owner`);
    }
    expect(unexpected).toEqual([]);
  });
});
