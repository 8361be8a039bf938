import type { DatabaseConfig } from '../config/configuration';
import {
  clusterNotConfigured,
  clusterUnavailable,
  type ClusterConnections,
} from './cluster-connections';
import {
  TenantConnectionFactory,
  type TenantLocation,
  tenantLocationOf,
} from './tenant-connection.factory';

/** A `useDb` handle: a name, a native db, and a close() that must never be called. */
interface FakeHandle {
  name: string;
  cluster: string;
  db: { dropDatabase: jest.Mock } | undefined;
  close: jest.Mock;
}

/**
 * A cluster's root connection as the factory uses it: `useDb` hands out a new
 * handle per call (the factory's own cache is what is under test), and
 * `removeDb` is recorded.
 */
function fakeRoot(cluster: string, handles: FakeHandle[]) {
  return {
    useDb: jest.fn((name: string): FakeHandle => {
      const handle = {
        name,
        cluster,
        db: { dropDatabase: jest.fn(() => Promise.resolve(true)) },
        close: jest.fn(),
      };
      handles.push(handle);
      return handle;
    }),
    removeDb: jest.fn(),
    close: jest.fn(),
  };
}

/** `default` and `eu-2` are configured; `eu-2` can be marked down. */
function fakeClusters() {
  const handles: FakeHandle[] = [];
  const roots = { default: fakeRoot('default', handles), 'eu-2': fakeRoot('eu-2', handles) };
  const down = new Set<string>();
  const clusters = {
    connection: jest.fn((name: string) => {
      if (!(name in roots)) return Promise.reject(clusterNotConfigured(name));
      if (down.has(name)) return Promise.reject(clusterUnavailable());
      return Promise.resolve(roots[name as keyof typeof roots]);
    }),
  };
  return { clusters, roots, handles, down };
}

const at = (databaseName: string, cluster = 'default'): TenantLocation => ({
  databaseName,
  cluster,
});

describe('TenantConnectionFactory', () => {
  let fake: ReturnType<typeof fakeClusters>;
  let master: ReturnType<typeof fakeRoot>;
  let handles: FakeHandle[];
  let factory: TenantConnectionFactory;
  const build = (tenantCacheSize: number) => {
    fake = fakeClusters();
    ({ handles } = fake);
    master = fake.roots.default;
    factory = new TenantConnectionFactory(
      fake.clusters as unknown as ClusterConnections,
      { tenantCacheSize } as DatabaseConfig,
    );
  };
  /** Database names the factory asked mongoose for on the master's cluster, in order. */
  const opened = () => master.useDb.mock.calls.map(([name]) => name);
  const removed = () => master.removeDb.mock.calls.map(([name]) => name);
  /** Opens each location in turn. */
  const open = async (...names: string[]) => {
    for (const name of names) await factory.connection(at(name));
  };

  beforeEach(() => build(2));

  it('names a tenant database after the slug, with the tenant prefix, on the default cluster', () => {
    expect(factory.locationForSlug('acme_inc')).toEqual({
      databaseName: 'org_acme_inc',
      cluster: 'default',
    });
    expect(factory.locationForSlug('acme_inc', 'eu-2')).toEqual({
      databaseName: 'org_acme_inc',
      cluster: 'eu-2',
    });
  });

  it("opens a handle on its cluster's shared client, with mongoose caching it too", async () => {
    const handle = await factory.connection(at('org_a'));
    expect(master.useDb).toHaveBeenCalledWith('org_a', { useCache: true });
    expect(handle).toBe(handles[0]);
  });

  it('takes the handle of a tenant on another cluster from that cluster only', async () => {
    const handle = (await factory.connection(at('org_a', 'eu-2'))) as unknown as FakeHandle;
    expect(handle.cluster).toBe('eu-2');
    expect(fake.roots['eu-2'].useDb).toHaveBeenCalledWith('org_a', { useCache: true });
    expect(master.useDb).not.toHaveBeenCalled();
  });

  it('keeps one database name on two clusters apart', async () => {
    const here = await factory.connection(at('org_a'));
    const there = await factory.connection(at('org_a', 'eu-2'));
    expect(here).not.toBe(there);
    expect(await factory.connection(at('org_a', 'eu-2'))).toBe(there);
    expect(factory.cachedHandleCount).toBe(2);
  });

  it('returns the cached handle for the same database', async () => {
    const first = await factory.connection(at('org_a'));
    expect(await factory.connection(at('org_a'))).toBe(first);
    expect(master.useDb).toHaveBeenCalledTimes(1);
    expect(factory.cachedHandleCount).toBe(1);
  });

  it('keeps at most the configured number of handles, over all clusters', async () => {
    await open('org_a', 'org_b', 'org_c');
    await factory.connection(at('org_d', 'eu-2'));
    expect(factory.cachedHandleCount).toBe(2);
  });

  it('evicts the least recently opened handle first', async () => {
    await open('org_a', 'org_b', 'org_c');
    expect(removed()).toEqual(['org_a']);
    await open('org_d');
    expect(removed()).toEqual(['org_a', 'org_b']);
  });

  it("drops an evicted handle from its own cluster's mongoose connection", async () => {
    await factory.connection(at('org_a', 'eu-2'));
    await open('org_b', 'org_c');
    expect(fake.roots['eu-2'].removeDb).toHaveBeenCalledWith('org_a');
    expect(master.removeDb).not.toHaveBeenCalled();
  });

  it('counts a hit as a use, so a recently read tenant outlives an older one', async () => {
    await open('org_a', 'org_b', 'org_a', 'org_c');
    expect(removed()).toEqual(['org_b']);
    await open('org_a');
    expect(opened()).toEqual(['org_a', 'org_b', 'org_c']);
  });

  it('reopens an evicted tenant with a fresh handle', async () => {
    const first = await factory.connection(at('org_a'));
    await open('org_b', 'org_c');
    const again = await factory.connection(at('org_a'));
    expect(again).not.toBe(first);
    expect(opened()).toEqual(['org_a', 'org_b', 'org_c', 'org_a']);
  });

  it('drops an evicted handle from mongoose without closing anything, since all share one pool', async () => {
    await open('org_a', 'org_b', 'org_c');
    expect(master.removeDb).toHaveBeenCalledWith('org_a');
    for (const handle of handles) expect(handle.close).not.toHaveBeenCalled();
    expect(master.close).not.toHaveBeenCalled();
  });

  it('holds one handle when configured for one', async () => {
    build(1);
    await open('org_a', 'org_b');
    expect(factory.cachedHandleCount).toBe(1);
    expect(removed()).toEqual(['org_a']);
  });

  it('refuses a location on a cluster that is not configured, before opening anything', async () => {
    await expect(factory.connection(at('org_a', 'gone'))).rejects.toMatchObject({
      code: 'ORG_CLUSTER_NOT_CONFIGURED',
    });
    expect(master.useDb).not.toHaveBeenCalled();
    expect(factory.cachedHandleCount).toBe(0);
  });

  it('refuses at once with 503 while the cluster is down, a cached handle included', async () => {
    await factory.connection(at('org_a', 'eu-2'));
    fake.down.add('eu-2');
    await expect(factory.connection(at('org_a', 'eu-2'))).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    await expect(factory.connection(at('org_b', 'eu-2'))).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    expect(await factory.connection(at('org_a'))).toBe(handles[1]);
  });

  describe('forget', () => {
    it('drops the cached handle and mongoose’s, so the next use reopens it', async () => {
      await open('org_a');
      factory.forget(at('org_a'));
      expect(factory.cachedHandleCount).toBe(0);
      expect(removed()).toEqual(['org_a']);
      await open('org_a');
      expect(master.useDb).toHaveBeenCalledTimes(2);
    });

    it('does nothing for a tenant it holds no handle for', () => {
      factory.forget(at('org_never'));
      expect(master.removeDb).not.toHaveBeenCalled();
    });

    it('forgets only the named cluster’s handle', async () => {
      await open('org_a');
      await factory.connection(at('org_a', 'eu-2'));
      factory.forget(at('org_a', 'eu-2'));
      expect(factory.cachedHandleCount).toBe(1);
      expect(fake.roots['eu-2'].removeDb).toHaveBeenCalledWith('org_a');
      expect(master.removeDb).not.toHaveBeenCalled();
    });
  });

  describe('db', () => {
    it('gives the native database of the handle', async () => {
      expect(await factory.db(at('org_a'))).toBe(handles[0].db);
    });

    it('refuses when the client is not connected', async () => {
      master.useDb.mockImplementationOnce((name: string) => ({
        name,
        cluster: 'default',
        db: undefined,
        close: jest.fn(),
      }));
      await expect(factory.db(at('org_a'))).rejects.toThrow('The database client is not connected');
    });
  });

  describe('dropDatabase', () => {
    it('drops the database and then forgets its handle', async () => {
      await open('org_a');
      await factory.dropDatabase(at('org_a'));
      expect(handles[0].db!.dropDatabase).toHaveBeenCalledTimes(1);
      expect(factory.cachedHandleCount).toBe(0);
      expect(removed()).toEqual(['org_a']);
    });

    it('keeps the handle when the drop fails', async () => {
      await open('org_a');
      handles[0].db!.dropDatabase.mockRejectedValueOnce(new Error('not primary'));
      await expect(factory.dropDatabase(at('org_a'))).rejects.toThrow('not primary');
      expect(factory.cachedHandleCount).toBe(1);
      expect(master.removeDb).not.toHaveBeenCalled();
    });
  });
});

describe('tenantLocationOf', () => {
  it('reads the location from the master record', () => {
    expect(tenantLocationOf({ database_name: 'org_acme', cluster: 'eu-2' })).toEqual({
      databaseName: 'org_acme',
      cluster: 'eu-2',
    });
  });

  it.each([undefined, null])('reads a missing cluster (%p) as default', (cluster) => {
    expect(tenantLocationOf({ database_name: 'org_acme', cluster })).toEqual({
      databaseName: 'org_acme',
      cluster: 'default',
    });
  });

  it("names another database of the organization on the organization's cluster", () => {
    expect(tenantLocationOf({ database_name: 'org_a', cluster: 'eu-2' }, 'org_b')).toEqual({
      databaseName: 'org_b',
      cluster: 'eu-2',
    });
  });
});
