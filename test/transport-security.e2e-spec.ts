import { createTestApp, type TestApp } from './utils/test-app';

/**
 * HSTS (RFC 6797) belongs on answers that travelled over TLS only. TLS ends
 * at the load balancer, which says so in X-Forwarded-Proto; the service
 * believes that header only from a trusted proxy (TRUST_PROXY).
 */
describe('Strict-Transport-Security (e2e)', () => {
  let behindProxy: TestApp;
  let direct: TestApp;
  beforeAll(async () => {
    // supertest connects over loopback, which is where NGINX sits on an instance.
    behindProxy = await createTestApp({ env: { TRUST_PROXY: '1' } });
    direct = await createTestApp({ env: { TRUST_PROXY: 'false' } });
  });
  afterAll(async () => {
    for (const t of [behindProxy, direct]) {
      await t.close();
    }
  });

  it('is sent on success, errors and unknown routes of a request that came over TLS', async () => {
    const http = () => behindProxy.http();
    const answers = [
      await http().get('/').set('X-Forwarded-Proto', 'https').expect(200),
      await http().post('/org/create').set('X-Forwarded-Proto', 'https').send({}).expect(400),
      await http().get('/no/such/route').set('X-Forwarded-Proto', 'https').expect(404),
    ];
    expect(answers.map((res) => res.headers['strict-transport-security'])).toEqual(
      answers.map(() => 'max-age=31536000; includeSubDomains'),
    );
  });

  it('is not sent on a request that came over plain HTTP', async () => {
    const res = await behindProxy.http().get('/').set('X-Forwarded-Proto', 'http').expect(200);
    expect(res.headers['strict-transport-security']).toBeUndefined();
    const bare = await behindProxy.http().get('/').expect(200);
    expect(bare.headers['strict-transport-security']).toBeUndefined();
  });

  it("ignores a client's own X-Forwarded-Proto when no proxy is trusted", async () => {
    const res = await direct.http().get('/').set('X-Forwarded-Proto', 'https').expect(200);
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });
});
