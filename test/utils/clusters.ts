import { MongoClient } from 'mongodb';
import { TENANT_DB_PREFIX } from '../../src/database/database.constants';
import { launchMongo, type LaunchedMongo } from '../../tools/database/mongo-launcher';

export type ClusterName = 'default' | 'eu-1' | 'eu-2';

/**
 * Two more real database servers that act as tenant clusters `eu-1` and
 * `eu-2` beside the test database (`default`, which also holds the master).
 */
export interface TestClusters {
  eu1: LaunchedMongo;
  eu2: LaunchedMongo;
  /** Direct clients, to look at each server's databases behind the service's back. */
  direct: Record<ClusterName, MongoClient>;
  /** `TENANT_CLUSTERS` naming both extra servers. */
  tenantClusters: string;
  /** The tenant databases on one server. */
  databasesOn(cluster: ClusterName): Promise<string[]>;
  stop(): Promise<void>;
}

export async function launchTestClusters(): Promise<TestClusters> {
  const [eu1, eu2] = await Promise.all([
    launchMongo({ kinds: ['ferretdb'], persistent: false, log: () => undefined }),
    launchMongo({ kinds: ['ferretdb'], persistent: false, log: () => undefined }),
  ]);
  const direct: Record<ClusterName, MongoClient> = {
    default: new MongoClient(process.env.MONGODB_URI!),
    'eu-1': new MongoClient(eu1.uri),
    'eu-2': new MongoClient(eu2.uri),
  };
  return {
    eu1,
    eu2,
    direct,
    tenantClusters: JSON.stringify({ 'eu-1': eu1.uri, 'eu-2': eu2.uri }),
    async databasesOn(cluster) {
      const { databases } = await direct[cluster].db().admin().listDatabases({ nameOnly: true });
      return (databases as Array<{ name: string }>)
        .map((d) => d.name)
        .filter((name) => name.startsWith(TENANT_DB_PREFIX));
    },
    async stop() {
      await Promise.all(Object.values(direct).map((client) => client.close()));
      await Promise.all([eu1.stop(), eu2.stop()]);
    },
  };
}
