import type { CommandStartedEvent } from 'mongodb';
import { bearer, createOrg, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

/** Connection chatter, not work done for a request. */
const HOUSEKEEPING = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions']);

/**
 * How many database commands one request costs, counted by the driver's
 * command monitoring on the application's own client: a hot path that
 * quietly gains a query fails here.
 */
describe('Database commands per request (e2e)', () => {
  let t: TestApp;
  let org: OrgFixture;
  let seen: string[] | undefined;

  async function commandsOf(send: () => PromiseLike<unknown>): Promise<string[]> {
    seen = [];
    await send();
    const commands = seen;
    seen = undefined;
    return commands;
  }

  beforeAll(async () => {
    const uri = process.env.MONGODB_URI!;
    t = await createTestApp({
      env: {
        MONGODB_URI: `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true`,
        // Counted apart from the per-address limits, whose cost depends on their settings.
        RATE_LIMIT_GLOBAL: 'off',
        RATE_LIMIT_LOGIN: 'off',
        RATE_LIMIT_CREATE: 'off',
        LOGIN_LOCKOUT: '10/15m',
      },
    });
    t.master.getClient().on('commandStarted', (event: CommandStartedEvent) => {
      if (seen && !HOUSEKEEPING.has(event.commandName)) {
        seen.push(`${event.commandName} ${String(event.command[event.commandName])}`);
      }
    });
    org = await createOrg(t, 'Counted');
  });
  afterAll(async () => {
    await t.close();
  });

  const get = () => t.http().get('/org/get').query({ organization_name: org.name });

  it('reads the public view with one command', async () => {
    const commands = await commandsOf(() => get().expect(200));
    expect(commands).toEqual(['find organizations']);
  });

  it("answers an owner's view of their own organization with the token check's three reads", async () => {
    const commands = await commandsOf(() => get().set(bearer(org.token)).expect(200));
    expect(commands.sort()).toEqual(['find admins', 'find organizations', 'find revoked_tokens']);
  });

  it('logs in with the lock-out bookkeeping, the admin, the organization and the audit entry', async () => {
    const commands = await commandsOf(() =>
      t.http().post('/admin/login').send({ email: org.email, password: org.password }).expect(200),
    );
    expect(commands).toEqual([
      'insert login_attempts',
      'aggregate login_attempts',
      'find admins',
      'find organizations',
      'delete login_attempts',
      'insert audit_events',
    ]);
  });
});
