import { setTimeout as sleep } from 'node:timers/promises';
import { outcomeOf, type MemberValue, type RequestKind } from './history';
import type { Random } from './random';
import type { Recorder, RequestSpec, Sent } from './recorder';

export const PASSWORD = 'torture test passphrase';
const MEMBER_ROLES = ['member', 'lead', 'guest'] as const;
const TEAMS = ['red', 'blue', 'green'] as const;
const NAME_WORDS = ['Alpha', 'Beta', 'Gamma', 'Delta', 'Epsilon', 'Zeta', 'Eta', 'Theta'] as const;

/** The service's slug rule (docs/api.md: "Acme Inc", "acme_inc" and "ACME-INC" are one name). */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
    .join('_');
}

/**
 * The small pool of organization names every client draws from, so creates
 * collide with renames and deletes of the same names. Each name comes in two
 * spellings of one slug, so some renames only change the spelling. Every slug
 * starts with the run's tag: its databases are `org_<tag>_*`.
 */
export function namePool(tag: string): string[] {
  const Tag = tag[0].toUpperCase() + tag.slice(1);
  return NAME_WORDS.flatMap((word) => [`${Tag} ${word}`, `${tag}-${word.toLowerCase()}`]);
}

type Role = 'owner' | 'admin';

interface AdminInfo {
  email: string;
  id?: string;
  /** As last acknowledged; `unknown` after a write without an answer (a resync learns it). */
  role: Role | 'unknown';
}

/** What the clients believe about one organization. */
export interface OrgInfo {
  id: string;
  name: string;
  ownerClient: number;
  ownerEmail: string;
  /** A token of one of its admins, preferably an owner; shared by every client. */
  token?: string;
  tokenEmail?: string;
  admins: Map<string, AdminInfo>;
  /** Gone for the clients: deleted, or none of its known admins can log in. */
  gone: boolean;
  /** A resync found no owner: no more owner-only requests. */
  ownerless: boolean;
}

interface MemberInfo {
  org: OrgInfo;
  email: string;
  id: string;
  version: number;
}

interface Adoption {
  createSeq: number;
  email: string;
  due: number;
  attempts: number;
}

/** State every client sees: the live organizations and the acknowledged deletes. */
export class World {
  readonly orgs = new Map<string, OrgInfo>();
  readonly deleted: { id: string; name: string; ownerEmail: string }[] = [];
}

export interface ClientOptions {
  tag: string;
  processes: number;
  /**
   * The processes that accept connections (running or paused), as a load
   * balancer's health checks would see them a moment late: a paused process
   * still gets requests, a killed one does not.
   */
  reachable: () => number[];
  leaseMs: number;
  maxOrgsPerClient: number;
  /** The clusters organizations may be moved between, with the super admin who moves them. */
  clusters?: { names: string[]; operator: { email: string; password: string } };
}

const ACTIONS = {
  createOrg: 12,
  renameOrg: 10,
  moveOrg: 4,
  deleteOrg: 1.5,
  createMember: 22,
  updateMember: 22,
  deleteMember: 7,
  addAdmin: 5,
  changeRole: 5,
  removeAdmin: 3,
  ownerBurst: 3,
} as const;
type Action = keyof typeof ACTIONS;

/**
 * One client: a sequential loop of random requests against random service
 * processes. Only this client writes the organizations it created (rename,
 * delete, team) and the members it created, each one request at a time, so
 * the history defines what each should look like; members of one organization
 * are written by many clients at once, racing its renames and deletes.
 */
export class Client {
  private readonly members: MemberInfo[] = [];
  private readonly adoptions: Adoption[] = [];
  private counter = 0;
  private readonly names: string[];
  private operatorToken?: string;

  constructor(
    readonly index: number,
    private readonly rng: Random,
    private readonly recorder: Recorder,
    private readonly world: World,
    private readonly options: ClientOptions,
  ) {
    this.names = namePool(options.tag);
  }

  async run(until: number): Promise<void> {
    while (performance.now() < until) {
      const adoption = this.adoptions.find((a) => a.due <= performance.now());
      if (adoption) await this.adopt(adoption);
      else await this.act(this.rng.weighted(ACTIONS));
      await sleep(this.rng.int(0, 20));
    }
  }

  private act(action: Action): Promise<void> {
    switch (action) {
      case 'createOrg':
        return this.createOrg();
      case 'renameOrg':
        return this.renameOrg();
      case 'moveOrg':
        return this.moveOrg();
      case 'deleteOrg':
        return this.deleteOrg();
      case 'createMember':
        return this.createMember();
      case 'updateMember':
        return this.updateMember();
      case 'deleteMember':
        return this.deleteMember();
      case 'addAdmin':
        return this.addAdmin();
      case 'changeRole':
        return this.changeRole();
      case 'removeAdmin':
        return this.removeAdmin();
      case 'ownerBurst':
        return this.ownerBurst();
    }
  }

  // ------------------------------------------------------------ organizations

  private async createOrg(): Promise<void> {
    // At the cap, race for a pool name by renaming instead: deletes stay rare,
    // so organizations live long enough to gather members worth checking.
    if (this.myOrgs().length >= this.options.maxOrgsPerClient) {
      const org = this.pickMyOrg();
      return org ? this.renameOrg(org) : undefined;
    }
    const name = this.rng.pick(this.names);
    const email = this.email('o');
    const { entry, body } = await this.send('org.create', 'POST', '/org/create', {
      subject: email,
      value: name,
      body: { organization_name: name, email, password: PASSWORD },
    });
    const outcome = outcomeOf(entry);
    if (outcome === 'acknowledged' && typeof body?.id === 'string') {
      const org: OrgInfo = {
        id: body.id,
        name: typeof body.organization_name === 'string' ? body.organization_name : name,
        ownerClient: this.index,
        ownerEmail: email,
        admins: new Map([[email, { email, id: nested(body, 'admin', 'id'), role: 'owner' }]]),
        gone: false,
        ownerless: false,
      };
      this.world.orgs.set(org.id, org);
      await this.login(org, email);
    } else if (outcome === 'unknown' && (entry.status === null || entry.status >= 500)) {
      // The create may still complete (or be rolled back): find out later by logging in.
      this.adoptions.push({
        createSeq: entry.seq,
        email,
        due: performance.now() + 1.5 * this.options.leaseMs,
        attempts: 0,
      });
    }
  }

  /** After a create without an answer: a successful login proves it happened. */
  private async adopt(adoption: Adoption): Promise<void> {
    adoption.attempts += 1;
    const { entry, body } = await this.send('login', 'POST', '/admin/login', {
      subject: adoption.email,
      adopts: adoption.createSeq,
      body: { email: adoption.email, password: PASSWORD },
    });
    const orgId = nested(body, 'organization', 'id');
    if (entry.status === 200 && orgId && typeof body?.access_token === 'string') {
      const role = nested(body, 'admin', 'role') === 'owner' ? 'owner' : 'admin';
      const org: OrgInfo = {
        id: orgId,
        name: nested(body, 'organization', 'organization_name') ?? '',
        ownerClient: this.index,
        ownerEmail: adoption.email,
        token: body.access_token,
        tokenEmail: adoption.email,
        admins: new Map([
          [adoption.email, { email: adoption.email, id: nested(body, 'admin', 'id'), role }],
        ]),
        gone: false,
        ownerless: false,
      };
      this.world.orgs.set(org.id, org);
      this.adoptions.splice(this.adoptions.indexOf(adoption), 1);
    } else if (entry.status === 401 || adoption.attempts >= 3) {
      this.adoptions.splice(this.adoptions.indexOf(adoption), 1);
    } else {
      adoption.due = performance.now() + this.options.leaseMs;
    }
  }

  private async renameOrg(chosen?: OrgInfo): Promise<void> {
    const org = chosen ?? this.pickMyOrg();
    if (!org) return this.createOrg();
    const target = this.rng.pick(this.names.filter((n) => n !== org.name));
    const { entry, body } = await this.send('org.rename', 'PUT', '/org/update', {
      org: org.id,
      value: target,
      token: org.token,
      body: { organization_name: org.name, new_organization_name: target },
    });
    if (entry.status === 200) {
      org.name = typeof body?.organization_name === 'string' ? body.organization_name : target;
    } else if (entry.status !== 409) {
      await this.resync(org);
    }
  }

  /**
   * The super admin moves one of this client's organizations to a random
   * cluster (perhaps the one it is on: 409 ALREADY_THERE). Members of it are
   * written by other clients meanwhile; the checker finds every acknowledged
   * one on the cluster the organization ends up on.
   */
  private async moveOrg(): Promise<void> {
    const clusters = this.options.clusters;
    const org = this.pickMyOrg();
    if (!clusters || !org) return;
    this.operatorToken ??= await this.operatorLogin(clusters.operator);
    if (!this.operatorToken) return;
    const cluster = this.rng.pick(clusters.names);
    const { entry } = await this.send('org.move', 'POST', '/org/move', {
      org: org.id,
      value: cluster,
      token: this.operatorToken,
      body: { organization_name: org.name, cluster },
    });
    // Logged out under it (it expired): log in again next time.
    if (entry.status === 401) this.operatorToken = undefined;
  }

  private async operatorLogin(operator: {
    email: string;
    password: string;
  }): Promise<string | undefined> {
    const { entry, body } = await this.send('login', 'POST', '/admin/login', {
      subject: operator.email,
      body: operator,
    });
    return entry.status === 200 && typeof body?.access_token === 'string'
      ? body.access_token
      : undefined;
  }

  private async deleteOrg(): Promise<void> {
    const org = this.pickMyOrg();
    if (!org) return;
    const { entry } = await this.send(
      'org.delete',
      'DELETE',
      `/org/delete?organization_name=${encodeURIComponent(org.name)}`,
      { org: org.id, token: org.token },
    );
    if (entry.status === 200) {
      this.forget(org);
      this.world.deleted.push({ id: org.id, name: org.name, ownerEmail: org.ownerEmail });
    } else if (entry.status !== 409) {
      await this.resync(org);
    }
  }

  // ------------------------------------------------------------------ members

  private async createMember(): Promise<void> {
    const orgs = [...this.world.orgs.values()].filter((o) => !o.gone && o.token);
    if (orgs.length === 0) return this.createOrg();
    const org = this.rng.pick(orgs);
    const email = this.email('m');
    const value = this.memberValue(email, 0);
    const { entry, body } = await this.send('member.create', 'POST', '/org/members', {
      org: org.id,
      subject: email,
      value,
      token: org.token,
      body: { email, ...value },
    });
    if (entry.status === 201 && typeof body?.id === 'string') {
      this.members.push({ org, email, id: body.id, version: 0 });
    }
  }

  private async updateMember(): Promise<void> {
    const member = this.pickMember();
    if (!member) return this.createMember();
    member.version += 1;
    const value = this.memberValue(member.email, member.version);
    await this.send('member.update', 'PATCH', `/org/members/${member.id}`, {
      org: member.org.id,
      subject: member.email,
      value,
      token: member.org.token,
      body: value,
    });
  }

  private async deleteMember(): Promise<void> {
    const member = this.pickMember();
    if (!member) return this.createMember();
    const { entry } = await this.send('member.delete', 'DELETE', `/org/members/${member.id}`, {
      org: member.org.id,
      subject: member.email,
      token: member.org.token,
    });
    // After a delete without an answer the member is left alone: its fate is open.
    if (outcomeOf(entry) !== 'refused') this.members.splice(this.members.indexOf(member), 1);
  }

  // --------------------------------------------------------------------- team

  private async addAdmin(): Promise<void> {
    const org = this.pickMyOrg();
    if (!org) return this.createOrg();
    const email = this.email('a');
    const role: Role = this.rng.chance(0.4) ? 'owner' : 'admin';
    const { entry, body } = await this.send('admin.add', 'POST', '/org/admins', {
      org: org.id,
      subject: email,
      value: role,
      token: org.token,
      body: { email, password: PASSWORD, role },
    });
    const outcome = outcomeOf(entry);
    if (outcome === 'acknowledged') {
      org.admins.set(email, {
        email,
        id: typeof body?.id === 'string' ? body.id : undefined,
        role,
      });
    } else if (outcome === 'unknown') {
      org.admins.set(email, { email, role: 'unknown' });
      await this.resync(org);
    } else if (entry.status === 401 || entry.status === 403) {
      await this.resync(org);
    }
  }

  private async changeRole(): Promise<void> {
    const org = this.pickMyOrg();
    const admin = org && this.pickOtherAdmin(org);
    if (!org || !admin?.id || admin.role === 'unknown') return this.addAdmin();
    const role: Role = admin.role === 'owner' ? 'admin' : 'owner';
    await this.teamWrite(org, admin, 'admin.role', role);
  }

  private async removeAdmin(): Promise<void> {
    const org = this.pickMyOrg();
    const admin = org && this.pickOtherAdmin(org);
    if (!org || !admin?.id) return this.addAdmin();
    await this.teamWrite(org, admin, 'admin.remove');
  }

  /**
   * Owners demote or remove each other at the same time, each request sent
   * with another owner's token: at most all but one may succeed.
   */
  private async ownerBurst(): Promise<void> {
    const org = this.pickMyOrg();
    if (!org) return this.createOrg();
    const owners = [...org.admins.values()].filter((a) => a.role === 'owner' && a.id);
    if (owners.length < 2) {
      const admin = [...org.admins.values()].find((a) => a.role === 'admin' && a.id);
      if (admin) return this.teamWrite(org, admin, 'admin.role', 'owner');
      return this.addAdmin();
    }
    const targets = this.rng.sample(owners, Math.min(3, owners.length));
    const plans = targets.map((target, i) => ({
      target,
      actor: targets[(i + 1) % targets.length],
      remove: this.rng.chance(0.4),
      process: this.pickProcess(),
    }));
    const tokens = new Map<string, string>();
    for (const { actor } of plans) {
      const token = await this.loginAs(org, actor.email);
      if (!token) return this.resync(org);
      tokens.set(actor.email, token);
    }
    await Promise.all(
      plans.map(({ target, actor, remove, process }) =>
        this.recorder.send({
          client: this.name,
          process,
          phase: 'run',
          kind: remove ? 'admin.remove' : 'admin.role',
          org: org.id,
          subject: target.email,
          ...(remove ? {} : { value: 'admin' }),
          method: remove ? 'DELETE' : 'PATCH',
          path: `/org/admins/${target.id}`,
          token: tokens.get(actor.email),
          ...(remove ? {} : { body: { role: 'admin' } }),
        }),
      ),
    );
    await this.resync(org);
  }

  private async teamWrite(
    org: OrgInfo,
    admin: AdminInfo,
    kind: 'admin.role' | 'admin.remove',
    role?: Role,
  ): Promise<void> {
    const { entry } = await this.send(
      kind,
      kind === 'admin.remove' ? 'DELETE' : 'PATCH',
      `/org/admins/${admin.id}`,
      {
        org: org.id,
        subject: admin.email,
        token: org.token,
        ...(role ? { value: role, body: { role } } : {}),
      },
    );
    const outcome = outcomeOf(entry);
    if (outcome === 'acknowledged') {
      if (kind === 'admin.remove') org.admins.delete(admin.email);
      else if (role) admin.role = role;
    } else if (outcome === 'unknown' || entry.status === 401 || entry.status === 403) {
      if (outcome === 'unknown') admin.role = 'unknown';
      await this.resync(org);
    }
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Learns what happened to one of this client's organizations after an
   * answer that did not say: logs in as one of its known admins (owners
   * first), reads its name and its team, and keeps an owner's token.
   */
  private async resync(org: OrgInfo): Promise<void> {
    const candidates = [...org.admins.values()].sort(
      (a, b) => Number(b.role === 'owner') - Number(a.role === 'owner'),
    );
    let answered = false;
    for (const admin of candidates.slice(0, 3)) {
      const { entry, body } = await this.send('login', 'POST', '/admin/login', {
        org: org.id,
        subject: admin.email,
        body: { email: admin.email, password: PASSWORD },
      });
      if (entry.status !== 401 && entry.status !== 200) continue; // no answer: try another process
      answered = true;
      if (entry.status !== 200 || typeof body?.access_token !== 'string') continue;
      if (nested(body, 'organization', 'id') !== org.id) continue;
      org.token = body.access_token;
      org.tokenEmail = admin.email;
      org.name = nested(body, 'organization', 'organization_name') ?? org.name;
      await this.readTeam(org);
      return;
    }
    // Every answer was "no such login": the organization is gone (or all its known admins).
    if (answered) this.forget(org);
  }

  private async readTeam(org: OrgInfo): Promise<void> {
    const { entry, body } = await this.send('admin.list', 'GET', '/org/admins', {
      org: org.id,
      token: org.token,
    });
    if (entry.status !== 200 || !Array.isArray(body?.items)) return;
    const listed = new Map<string, AdminInfo>();
    for (const item of body.items as Record<string, unknown>[]) {
      if (typeof item.email !== 'string') continue;
      const role: Role = item.role === 'owner' ? 'owner' : 'admin';
      listed.set(item.email, {
        email: item.email,
        id: typeof item.id === 'string' ? item.id : undefined,
        role,
      });
    }
    org.admins = listed;
    const owner = [...listed.values()].find((a) => a.role === 'owner');
    org.ownerless = owner === undefined;
    if (
      owner &&
      org.tokenEmail !== owner.email &&
      org.admins.get(org.tokenEmail ?? '')?.role !== 'owner'
    ) {
      const token = await this.loginAs(org, owner.email);
      if (token) {
        org.token = token;
        org.tokenEmail = owner.email;
      }
    }
  }

  private async login(org: OrgInfo, email: string): Promise<void> {
    const token = await this.loginAs(org, email);
    if (token) {
      org.token = token;
      org.tokenEmail = email;
    }
  }

  private async loginAs(org: OrgInfo, email: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { entry, body } = await this.send('login', 'POST', '/admin/login', {
        org: org.id,
        subject: email,
        body: { email, password: PASSWORD },
      });
      if (entry.status === 200 && typeof body?.access_token === 'string') return body.access_token;
      if (entry.status === 401) return undefined;
    }
    return undefined;
  }

  private forget(org: OrgInfo): void {
    org.gone = true;
    this.world.orgs.delete(org.id);
  }

  private myOrgs(): OrgInfo[] {
    return [...this.world.orgs.values()].filter((o) => o.ownerClient === this.index && !o.gone);
  }

  /** One of this client's organizations that it can still act on as an owner. */
  private pickMyOrg(): OrgInfo | undefined {
    const usable = this.myOrgs().filter((o) => o.token && !o.ownerless);
    return usable.length > 0 ? this.rng.pick(usable) : undefined;
  }

  /** A known admin other than the one whose token the client acts with. */
  private pickOtherAdmin(org: OrgInfo): AdminInfo | undefined {
    const others = [...org.admins.values()].filter((a) => a.email !== org.tokenEmail && a.id);
    return others.length > 0 ? this.rng.pick(others) : undefined;
  }

  private pickMember(): MemberInfo | undefined {
    for (let i = this.members.length - 1; i >= 0; i--) {
      if (this.members[i].org.gone) this.members.splice(i, 1);
    }
    return this.members.length > 0 ? this.rng.pick(this.members) : undefined;
  }

  private memberValue(email: string, version: number): MemberValue {
    return {
      name: `${email.split('@')[0]} v${version}`,
      role: this.rng.pick(MEMBER_ROLES),
      metadata: { version, team: this.rng.pick(TEAMS) },
    };
  }

  private pickProcess(): number {
    const reachable = this.options.reachable();
    return reachable.length > 0
      ? this.rng.pick(reachable)
      : this.rng.int(0, this.options.processes - 1);
  }

  private email(kind: 'o' | 'a' | 'm'): string {
    this.counter += 1;
    return `${kind}${this.index}-${this.counter}.${this.options.tag}@example.test`;
  }

  private get name(): string {
    return `c${this.index}`;
  }

  private send(
    kind: RequestKind,
    method: RequestSpec['method'],
    path: string,
    extra: Partial<RequestSpec> = {},
  ): Promise<Sent> {
    return this.recorder.send({
      client: this.name,
      process: this.pickProcess(),
      phase: 'run',
      kind,
      method,
      path,
      ...extra,
    });
  }
}

function nested(
  body: Record<string, unknown> | null,
  key: string,
  field: string,
): string | undefined {
  const inner = body?.[key];
  if (inner === null || typeof inner !== 'object') return undefined;
  const value = (inner as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}
