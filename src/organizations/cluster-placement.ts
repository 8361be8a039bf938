import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { DEFAULT_CLUSTER } from '../config/tenant-clusters';
import { ClusterConnections } from '../database/cluster-connections';
import { OrganizationsRepository } from './organizations.repository';

const unknownCluster = (name: string) =>
  new DomainError(ErrorCode.VALIDATION_FAILED, `No database cluster is named "${name}".`, [
    { field: 'cluster', message: 'must name a configured cluster (TENANT_CLUSTERS, or default)' },
  ]);

/**
 * The candidate holding the fewest organizations; ties go to the one listed
 * first (`default`, then TENANT_CLUSTERS in the order written).
 */
export function fewestTenants(
  candidates: readonly string[],
  counts: ReadonlyMap<string, number>,
): string {
  let best = candidates[0];
  for (const name of candidates) {
    if ((counts.get(name) ?? 0) < (counts.get(best) ?? 0)) best = name;
  }
  return best;
}

/**
 * Which cluster a new organization's database goes to: the one the super
 * admin named, else by TENANT_PLACEMENT (`default`, or `spread` to the
 * cluster with the fewest organizations as the master's records count them).
 */
@Injectable()
export class ClusterPlacement {
  constructor(
    private readonly organizations: OrganizationsRepository,
    private readonly clusters: ClusterConnections,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async choose(requested?: string): Promise<string> {
    if (requested !== undefined) {
      if (!this.clusters.isConfigured(requested)) throw unknownCluster(requested);
      return requested;
    }
    if (this.config.tenantPlacement === 'default') return DEFAULT_CLUSTER;
    // A cluster that is down right now would only fail the create.
    const names = this.clusters.names();
    const up = names.filter((name) => this.clusters.mayBeUp(name));
    const candidates = up.length > 0 ? up : names;
    // Counted over every cluster: `default`'s count is what the others leave.
    return fewestTenants(candidates, await this.organizations.countPerCluster(names));
  }
}
