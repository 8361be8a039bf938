import { MongoClient } from 'mongodb';

/** The master database's own cluster (MONGODB_URI), always available to tenants. */
export const DEFAULT_CLUSTER = 'default';

export const CLUSTER_NAME_PATTERN = /^[a-z0-9-]{1,32}$/;

export const TENANT_PLACEMENTS = ['default', 'spread'] as const;
export type TenantPlacement = (typeof TENANT_PLACEMENTS)[number];

/** Cluster name to connection string, in the order the operator wrote them. */
export type TenantClusterUris = Readonly<Record<string, string>>;

/**
 * Reads TENANT_CLUSTERS (a JSON object of name to connection string) and
 * returns the problems with it. A problem names the cluster but never quotes
 * its URI: connection strings carry credentials, and a refused start-up's
 * message ends up in logs.
 */
export function parseTenantClusters(raw: string | undefined): {
  clusters: TenantClusterUris;
  problems: string[];
} {
  const clusters: Record<string, string> = {};
  const problems: string[] = [];
  if (raw === undefined || raw.trim() === '') return { clusters, problems };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // JSON.parse's message quotes the text around the fault, which may be a password.
    return {
      clusters,
      problems: ['TENANT_CLUSTERS must be a JSON object such as {"eu-2":"mongodb://..."}'],
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      clusters,
      problems: ['TENANT_CLUSTERS must be a JSON object of cluster names to connection strings'],
    };
  }
  for (const [name, uri] of Object.entries(parsed)) {
    const problem = clusterProblem(name, uri);
    if (problem) problems.push(`TENANT_CLUSTERS: ${problem}`);
    else clusters[name] = uri as string;
  }
  return { clusters, problems };
}

function clusterProblem(name: string, uri: unknown): string | undefined {
  if (name === DEFAULT_CLUSTER) {
    return `"${DEFAULT_CLUSTER}" is the cluster of MONGODB_URI and cannot be redefined`;
  }
  if (!CLUSTER_NAME_PATTERN.test(name)) {
    return 'a cluster name must be 1-32 characters of lower-case letters, digits or "-"';
  }
  if (typeof uri !== 'string' || !/^mongodb(\+srv)?:\/\/\S+$/.test(uri)) {
    return `the URI of "${name}" must be a mongodb:// or mongodb+srv:// connection string`;
  }
  try {
    // The driver's own parser, without connecting (no I/O until connect()).
    new MongoClient(uri);
  } catch {
    return `the URI of "${name}" does not parse as a connection string`;
  }
  return undefined;
}
