import { bearer, createOrg, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

const ORIGIN = 'https://app.example.test';

describe('HTTP caching (e2e)', () => {
  let t: TestApp;
  let org: OrgFixture;
  const publicView = (name: string) => t.http().get('/org/get').query({ organization_name: name });

  beforeAll(async () => {
    t = await createTestApp({ env: { CORS_ORIGINS: ORIGIN } });
    org = await createOrg(t, 'Cached');
  });
  afterAll(async () => {
    await t.close();
  });

  it('forbids storing every authenticated or private answer, errors included', async () => {
    const login = await t
      .http()
      .post('/admin/login')
      .send({ email: org.email, password: org.password })
      .expect(200);
    const answers = {
      login,
      ownerView: await publicView(org.name).set(bearer(org.token)).expect(200),
      admins: await t.http().get('/org/admins').set(bearer(org.token)).expect(200),
      audit: await t.http().get('/org/audit').set(bearer(org.token)).expect(200),
      members: await t.http().get('/org/members').set(bearer(org.token)).expect(200),
      unauthorized: await t.http().get('/org/admins').expect(401),
      notFound: await publicView('Nobody Has This Name').expect(404),
      banner: await t.http().get('/').expect(200),
    };
    for (const [what, res] of Object.entries(answers)) {
      expect({ what, cache: res.headers['cache-control'], etag: res.headers.etag }).toEqual({
        what,
        cache: 'no-store',
        etag: undefined,
      });
    }
  });

  it('gives the public view a strong ETag to revalidate, and 304 with no body while it holds', async () => {
    const first = await publicView(org.name).expect(200);
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers.vary).toMatch(/\bAuthorization\b/i);
    const etag = first.headers.etag;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.body).toMatchObject({ organization_name: org.name, id: org.id });

    const again = await publicView(org.name).set('If-None-Match', etag).expect(304);
    expect(again.text ?? '').toBe('');
    expect(again.headers.etag).toBe(etag);
    expect(again.headers['cache-control']).toBe('no-cache');
    // Weak comparison, and a list of tags.
    await publicView(org.name).set('If-None-Match', `"other", W/${etag}`).expect(304);
    await publicView(org.name).set('If-None-Match', '"something-else"').expect(200);
  });

  it('never answers an authenticated request of the same URL from the public ETag', async () => {
    const { etag } = (await publicView(org.name).expect(200)).headers as { etag: string };
    const owner = await publicView(org.name)
      .set(bearer(org.token))
      .set('If-None-Match', etag)
      .expect(200);
    expect(owner.body).toMatchObject({
      database_name: expect.any(String),
      admin: expect.any(Object),
    });
    expect(owner.headers['cache-control']).toBe('no-store');
    expect(owner.headers.vary).toMatch(/\bAuthorization\b/i);
    expect(owner.headers.etag).toBeUndefined();

    // Another organization's admin sees the public view, still unstored.
    const other = await createOrg(t, 'Cached Other');
    const foreign = await publicView(org.name)
      .set(bearer(other.token))
      .set('If-None-Match', etag)
      .expect(200);
    expect(foreign.body).not.toHaveProperty('database_name');
    expect(foreign.headers['cache-control']).toBe('no-store');
    expect(foreign.headers.etag).toBeUndefined();
  });

  it('changes the ETag at once on a rename, and answers 404 after a delete', async () => {
    const own = await createOrg(t, 'Renamed');
    const before = (await publicView(own.name).expect(200)).headers.etag;
    const renamed = `${own.name} Two`;
    await t
      .http()
      .put('/org/update')
      .set(bearer(own.token))
      .send({ organization_name: own.name, new_organization_name: renamed })
      .expect(200);
    const after = await publicView(renamed).set('If-None-Match', before).expect(200);
    expect(after.headers.etag).not.toBe(before);
    expect(after.body.organization_name).toBe(renamed);
    await publicView(own.name).set('If-None-Match', before).expect(404);

    await t
      .http()
      .delete('/org/delete')
      .query({ organization_name: renamed })
      .set(bearer(own.token))
      .expect(200);
    const gone = await publicView(renamed).set('If-None-Match', after.headers.etag).expect(404);
    expect(gone.headers['cache-control']).toBe('no-store');
    expect(gone.headers.etag).toBeUndefined();
  });

  it('lets a browser app on another origin read the ETag, and varies on both Origin and Authorization', async () => {
    const res = await publicView(org.name).set('Origin', ORIGIN).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['access-control-expose-headers'].toLowerCase()).toContain('etag');
    expect(res.headers.vary).toMatch(/\bOrigin\b/i);
    expect(res.headers.vary).toMatch(/\bAuthorization\b/i);
  });

  it('leaves the docs their own caching', async () => {
    const docs = await t.http().get('/redoc/redoc.standalone.js').expect(200);
    expect(docs.headers['cache-control']).toBe('public, max-age=86400');
  });
});
