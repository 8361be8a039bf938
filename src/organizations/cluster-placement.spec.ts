import type { DatabaseConfig } from '../config/configuration';
import type { ClusterConnections } from '../database/cluster-connections';
import { ClusterPlacement, fewestTenants } from './cluster-placement';
import type { OrganizationsRepository } from './organizations.repository';

describe('fewestTenants', () => {
  it('picks the cluster holding the fewest organizations', () => {
    const counts = new Map([
      ['default', 5],
      ['eu-1', 2],
      ['eu-2', 3],
    ]);
    expect(fewestTenants(['default', 'eu-1', 'eu-2'], counts)).toBe('eu-1');
  });

  it('breaks a tie by the order the clusters are listed in', () => {
    const counts = new Map([
      ['default', 2],
      ['eu-1', 1],
      ['eu-2', 1],
    ]);
    expect(fewestTenants(['default', 'eu-1', 'eu-2'], counts)).toBe('eu-1');
    expect(fewestTenants(['default', 'eu-2', 'eu-1'], counts)).toBe('eu-2');
  });

  it('counts a cluster with no count as empty', () => {
    expect(fewestTenants(['default', 'eu-1'], new Map([['default', 1]]))).toBe('eu-1');
  });
});

describe('ClusterPlacement', () => {
  const NAMES = ['default', 'eu-1', 'eu-2'];
  let down: Set<string>;
  let countPerCluster: jest.Mock;

  const placement = (tenantPlacement: DatabaseConfig['tenantPlacement']) => {
    down = new Set();
    countPerCluster = jest.fn((names: string[]) =>
      Promise.resolve(
        new Map(
          names.map((name) => [name, { default: 4, 'eu-1': 1, 'eu-2': 2 }[name] ?? 0] as const),
        ),
      ),
    );
    const clusters = {
      names: () => NAMES,
      isConfigured: (name: string) => NAMES.includes(name),
      mayBeUp: (name: string) => !down.has(name),
    };
    return new ClusterPlacement(
      { countPerCluster } as unknown as OrganizationsRepository,
      clusters as unknown as ClusterConnections,
      { tenantPlacement } as DatabaseConfig,
    );
  };

  it('places every organization on default under the default placement, counting nothing', async () => {
    await expect(placement('default').choose()).resolves.toBe('default');
    expect(countPerCluster).not.toHaveBeenCalled();
  });

  it('spreads to the cluster with the fewest organizations', async () => {
    await expect(placement('spread').choose()).resolves.toBe('eu-1');
  });

  it('leaves a cluster that is down out of the spread', async () => {
    const chooser = placement('spread');
    down.add('eu-1');
    await expect(chooser.choose()).resolves.toBe('eu-2');
    expect(countPerCluster).toHaveBeenCalledWith(NAMES);
  });

  it('takes the cluster named by the caller over either placement', async () => {
    await expect(placement('default').choose('eu-2')).resolves.toBe('eu-2');
    await expect(placement('spread').choose('default')).resolves.toBe('default');
  });

  it('refuses a cluster that is not configured with 400 naming the field', async () => {
    await expect(placement('spread').choose('eu-9')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      fieldErrors: [expect.objectContaining({ field: 'cluster' })],
    });
  });
});
