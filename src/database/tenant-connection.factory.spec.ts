import type { Connection } from 'mongoose';
import type { DatabaseConfig } from '../config/configuration';
import {
  TenantConnectionFactory,
  type TenantLocation,
  tenantLocationOf,
} from './tenant-connection.factory';

/** A `useDb` handle: a name, a native db, and a close() that must never be called. */
interface FakeHandle {
  name: string;
  db: { dropDatabase: jest.Mock } | undefined;
  close: jest.Mock;
}

/**
 * The master connection as the factory uses it: `useDb` hands out a new
 * handle per call (the factory's own cache is what is under test), and
 * `removeDb` is recorded.
 */
function fakeMaster() {
  const handles: FakeHandle[] = [];
  const master = {
    useDb: jest.fn((name: string): FakeHandle => {
      const handle = {
        name,
        db: { dropDatabase: jest.fn(() => Promise.resolve(true)) },
        close: jest.fn(),
      };
      handles.push(handle);
      return handle;
    }),
    removeDb: jest.fn(),
    close: jest.fn(),
  };
  return { master, handles };
}

const at = (databaseName: string): TenantLocation => ({ databaseName, clusterUri: null });

describe('TenantConnectionFactory', () => {
  let master: ReturnType<typeof fakeMaster>['master'];
  let handles: FakeHandle[];
  let factory: TenantConnectionFactory;

  const build = (tenantCacheSize: number) => {
    ({ master, handles } = fakeMaster());
    factory = new TenantConnectionFactory(
      master as unknown as Connection,
      {
        tenantCacheSize,
      } as DatabaseConfig,
    );
  };
  /** Database names the factory asked mongoose for, in order. */
  const opened = () => master.useDb.mock.calls.map(([name]) => name);
  const removed = () => master.removeDb.mock.calls.map(([name]) => name);

  beforeEach(() => build(2));

  it('names a tenant database after the slug, with the tenant prefix', () => {
    expect(factory.locationForSlug('acme_inc')).toEqual({
      databaseName: 'org_acme_inc',
      clusterUri: null,
    });
  });

  it('opens a handle on the shared client, with mongoose caching it too', () => {
    const handle = factory.connection(at('org_a'));
    expect(master.useDb).toHaveBeenCalledWith('org_a', { useCache: true });
    expect(handle).toBe(handles[0]);
  });

  it('returns the cached handle for the same database', () => {
    const first = factory.connection(at('org_a'));
    expect(factory.connection(at('org_a'))).toBe(first);
    expect(master.useDb).toHaveBeenCalledTimes(1);
    expect(factory.cachedHandleCount).toBe(1);
  });

  it('keeps at most the configured number of handles', () => {
    for (const name of ['org_a', 'org_b', 'org_c', 'org_d', 'org_e']) factory.connection(at(name));
    expect(factory.cachedHandleCount).toBe(2);
  });

  it('evicts the least recently opened handle first', () => {
    factory.connection(at('org_a'));
    factory.connection(at('org_b'));
    factory.connection(at('org_c'));
    expect(removed()).toEqual(['org_a']);
    factory.connection(at('org_d'));
    expect(removed()).toEqual(['org_a', 'org_b']);
  });

  it('counts a hit as a use, so a recently read tenant outlives an older one', () => {
    factory.connection(at('org_a'));
    factory.connection(at('org_b'));
    factory.connection(at('org_a'));
    factory.connection(at('org_c'));
    expect(removed()).toEqual(['org_b']);
    factory.connection(at('org_a'));
    expect(opened()).toEqual(['org_a', 'org_b', 'org_c']);
  });

  it('reopens an evicted tenant with a fresh handle', () => {
    const first = factory.connection(at('org_a'));
    factory.connection(at('org_b'));
    factory.connection(at('org_c'));
    const again = factory.connection(at('org_a'));
    expect(again).not.toBe(first);
    expect(opened()).toEqual(['org_a', 'org_b', 'org_c', 'org_a']);
  });

  it('drops an evicted handle from mongoose without closing anything, since all share one pool', () => {
    factory.connection(at('org_a'));
    factory.connection(at('org_b'));
    factory.connection(at('org_c'));
    expect(master.removeDb).toHaveBeenCalledWith('org_a');
    for (const handle of handles) expect(handle.close).not.toHaveBeenCalled();
    expect(master.close).not.toHaveBeenCalled();
  });

  it('holds one handle when configured for one', () => {
    build(1);
    factory.connection(at('org_a'));
    factory.connection(at('org_b'));
    expect(factory.cachedHandleCount).toBe(1);
    expect(removed()).toEqual(['org_a']);
  });

  it('refuses a location on its own cluster, before opening anything', () => {
    const clusterUri = 'mongodb://big-tenant.example:27017';
    expect(() => factory.connection({ databaseName: 'org_a', clusterUri })).toThrow(
      'Per-organization clusters are not supported yet',
    );
    expect(master.useDb).not.toHaveBeenCalled();
    expect(factory.cachedHandleCount).toBe(0);
  });

  it.each([null, undefined])(
    'serves a location whose cluster URI is %p from the shared client',
    (clusterUri) => {
      expect(factory.connection({ databaseName: 'org_a', clusterUri })).toBe(handles[0]);
    },
  );

  describe('forget', () => {
    it('drops the cached handle and mongoose’s, so the next use reopens it', () => {
      factory.connection(at('org_a'));
      factory.forget(at('org_a'));
      expect(factory.cachedHandleCount).toBe(0);
      expect(removed()).toEqual(['org_a']);
      factory.connection(at('org_a'));
      expect(master.useDb).toHaveBeenCalledTimes(2);
    });

    it('does nothing for a tenant it holds no handle for', () => {
      factory.forget(at('org_never'));
      expect(master.removeDb).not.toHaveBeenCalled();
    });
  });

  describe('db', () => {
    it('gives the native database of the handle', () => {
      expect(factory.db(at('org_a'))).toBe(handles[0].db);
    });

    it('refuses when the client is not connected', () => {
      master.useDb.mockImplementationOnce((name: string) => ({
        name,
        db: undefined,
        close: jest.fn(),
      }));
      expect(() => factory.db(at('org_a'))).toThrow('The database client is not connected');
    });
  });

  describe('dropDatabase', () => {
    it('drops the database and then forgets its handle', async () => {
      factory.connection(at('org_a'));
      await factory.dropDatabase(at('org_a'));
      expect(handles[0].db!.dropDatabase).toHaveBeenCalledTimes(1);
      expect(factory.cachedHandleCount).toBe(0);
      expect(removed()).toEqual(['org_a']);
    });

    it('keeps the handle when the drop fails', async () => {
      factory.connection(at('org_a'));
      handles[0].db!.dropDatabase.mockRejectedValueOnce(new Error('not primary'));
      await expect(factory.dropDatabase(at('org_a'))).rejects.toThrow('not primary');
      expect(factory.cachedHandleCount).toBe(1);
      expect(master.removeDb).not.toHaveBeenCalled();
    });
  });
});

describe('tenantLocationOf', () => {
  it('reads the location from the master record', () => {
    expect(tenantLocationOf({ database_name: 'org_acme', cluster_uri: 'mongodb://x' })).toEqual({
      databaseName: 'org_acme',
      clusterUri: 'mongodb://x',
    });
  });

  it.each([undefined, null])(
    'reads a missing cluster URI (%p) as the shared cluster',
    (cluster_uri) => {
      expect(tenantLocationOf({ database_name: 'org_acme', cluster_uri })).toEqual({
        databaseName: 'org_acme',
        clusterUri: null,
      });
    },
  );
});
