import { createHmac, createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { REVOKED_TOKENS_COLLECTION } from '../src/auth/token-revocation.service';
import { ExpiringCollections } from '../src/database/expiring-collections.service';
import { apiClient, expectProblem, type Api } from './utils/api';
import { createOrg, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

// The secret the e2e environment runs with (test/setup/env.ts).
const SECRET = 'e2e-only-secret-with-more-than-32-bytes-0123456789';

type Claims = Record<string, unknown>;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A JWT signed by hand, so every field can be wrong on purpose. */
function forge(claims: Claims, options: { alg?: string; secret?: string } = {}): string {
  const alg = options.alg ?? 'HS256';
  const head = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}`;
  if (alg === 'none') return `${head}.`;
  if (alg.startsWith('RS')) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = createSign(`RSA-SHA${alg.slice(2)}`)
      .update(head)
      .sign(privateKey);
    return `${head}.${signature.toString('base64url')}`;
  }
  const hash = `sha${alg.slice(2)}`;
  const signature = createHmac(hash, options.secret ?? SECRET)
    .update(head)
    .digest('base64url');
  return `${head}.${signature}`;
}

const claimsOf = (token: string): Claims =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Claims;

describe('Tokens (e2e)', () => {
  let t: TestApp;
  let api: Api;
  let org: OrgFixture;
  let valid: Claims;

  beforeAll(async () => {
    t = await createTestApp();
    api = apiClient(t);
    org = await createOrg(t, 'Tokens');
    valid = claimsOf(org.token);
  });
  afterAll(async () => {
    await t.close();
  });

  /** The owner view needs a valid token of the organization; a bad token gets 401. */
  const ownerView = (token: string) => api.as(token).getOrg(org.name);

  const expectRefused = async (token: string) => {
    expectProblem(await ownerView(token), 401, 'UNAUTHORIZED');
  };

  describe('verification', () => {
    it('accepts a token forged with the right key, algorithm and claims (so the cases below are meaningful)', async () => {
      const res = await ownerView(forge({ ...valid, jti: randomUUID() })).expect(200);
      expect(res.body.admin).toBeDefined();
    });

    it('refuses alg "none"', async () => {
      await expectRefused(forge(valid, { alg: 'none' }));
    });

    it.each(['HS384', 'HS512'])('refuses %s, though signed with the right secret', async (alg) => {
      await expectRefused(forge(valid, { alg }));
    });

    it('refuses RS256', async () => {
      await expectRefused(forge(valid, { alg: 'RS256' }));
    });

    it('refuses a bad signature', async () => {
      await expectRefused(forge(valid, { secret: `${SECRET}-not-ours` }));
      const [head, payload, signature] = org.token.split('.');
      const flipped = signature[0] === 'A' ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      await expectRefused(`${head}.${payload}.${flipped}`);
    });

    it('refuses a payload altered after signing', async () => {
      const [head, , signature] = org.token.split('.');
      await expectRefused(`${head}.${b64url({ ...valid, ver: 99 })}.${signature}`);
    });

    it('refuses the wrong audience', async () => {
      await expectRefused(forge({ ...valid, aud: 'some-other-api' }));
    });

    it('refuses the wrong issuer', async () => {
      await expectRefused(forge({ ...valid, iss: 'someone-else' }));
    });

    it('refuses an expired token', async () => {
      await expectRefused(forge({ ...valid, iat: now() - 3600, exp: now() - 60 }));
    });

    it('refuses a token that is not valid yet (nbf in the future)', async () => {
      await expectRefused(forge({ ...valid, nbf: now() + 3600 }));
    });

    it.each(['sub', 'org_id', 'ver', 'jti', 'iat', 'exp', 'iss', 'aud'])(
      'refuses a token without the %s claim',
      async (claim) => {
        const { [claim]: _dropped, ...rest } = valid;
        await expectRefused(forge(rest));
      },
    );

    it.each([
      ['sub', 'not-an-object-id'],
      ['org_id', { $ne: null }],
      ['ver', '0'],
      ['jti', 42],
    ])('refuses a %s claim of the wrong type', async (claim, value) => {
      await expectRefused(forge({ ...valid, [claim]: value }));
    });

    it("refuses a token naming another organization's admin", async () => {
      const other = await createOrg(t, 'Other');
      await expectRefused(forge({ ...valid, sub: claimsOf(other.token).sub }));
    });

    it('refuses garbage in the Authorization header', async () => {
      for (const value of [
        'Bearer',
        'Bearer ',
        'Basic abc',
        'Bearer a.b',
        'Bearer ...',
        'bearer\tx.y.z',
      ]) {
        await t
          .http()
          .get('/org/get')
          .query({ organization_name: org.name })
          .set('Authorization', value)
          .expect(401);
      }
    });
  });

  describe('revocation', () => {
    it('revokes the presented token on logout, until it expires, and only that token', async () => {
      const owner = await createOrg(t, 'Logout');
      const second = await api.loginAs(owner.email, PASSWORD);
      await owner.owner.logout().expect(204);

      const refused = expectProblem(await owner.owner.getOrg(owner.name), 401, 'UNAUTHORIZED');
      expect(refused.detail).toMatch(/logout/);
      await owner.owner.logout().expect(401);
      // Another session of the same admin is untouched.
      await second.getOrg(owner.name).expect(200);

      const entry = await t.master
        .db!.collection(REVOKED_TOKENS_COLLECTION)
        .findOne({ _id: claimsOf(owner.token).jti as never });
      expect(entry?.expires_at).toEqual(new Date((claimsOf(owner.token).exp as number) * 1000));
    });

    it('keeps a logout across a restart and on every instance', async () => {
      const owner = await createOrg(t, 'Restart');
      await owner.owner.logout().expect(204);
      const restarted = await createTestApp({ masterDbName: t.master.db!.databaseName });
      try {
        await apiClient(restarted).as(owner.token).getOrg(owner.name).expect(401);
      } finally {
        await restarted.close();
      }
    });

    it('requires a valid token to log out', async () => {
      await api.logout().expect(401);
      await api.as('not.a.token').logout().expect(401);
    });

    it('ignores revocation entries past their expiry and purges them, TTL index or not', async () => {
      const expiring = t.app.get(ExpiringCollections);
      // FerretDB 1.24 has no TTL indexes; MongoDB has. Either way there is an index to purge by.
      expect(['ttl-index', 'purge-only']).toContain(expiring.expiryMode(REVOKED_TOKENS_COLLECTION));
      const revoked = t.master.db!.collection(REVOKED_TOKENS_COLLECTION);
      const indexes = (await revoked.listIndexes().toArray()).map((index) => index.name);
      expect(indexes).toContain('expires_at_expiry');

      // A token whose revocation entry has expired is itself expired, so it is
      // refused anyway; here the entry outlives nothing, so forge one whose
      // entry is already past and check the lookup ignores it.
      const jti = randomUUID();
      await revoked.insertOne({
        _id: jti as never,
        admin_id: null,
        revoked_at: new Date(),
        expires_at: new Date(Date.now() - 1000),
      });
      await ownerView(forge({ ...valid, jti })).expect(200);

      expect(await expiring.purgeExpired()).toBeGreaterThanOrEqual(1);
      expect(await revoked.findOne({ _id: jti as never })).toBeNull();
    });

    it('revokes older tokens on a password change', async () => {
      const owner = await createOrg(t, 'Password');
      await owner.owner
        .update({ password: 'a brand new passphrase', current_password: PASSWORD })
        .expect(200);
      await ownerView(owner.token).expect(401);
    });

    it('revokes older tokens on an email change', async () => {
      const owner = await createOrg(t, 'Email');
      await owner.owner
        .update({ email: `changed-${owner.email}`, current_password: PASSWORD })
        .expect(200);
      const refused = expectProblem(await owner.owner.getOrg(owner.name), 401, 'UNAUTHORIZED');
      expect(refused.detail).toMatch(/credentials change/);
    });

    it('revokes every token of a deleted organization', async () => {
      const owner = await createOrg(t, 'Deleted');
      const second = await api.loginAs(owner.email, PASSWORD);
      await owner.owner.deleteOrg(owner.name).expect(200);
      for (const session of [owner.owner, second]) {
        await session.rename('Ghost Org').expect(401);
        await session.members.list().expect(401);
        await session.admins.list().expect(401);
        // Giving it up still works (it could read the delete's operation until then).
        await session.logout().expect(204);
        await session.logout().expect(401);
      }
    });
  });
});
