/** The prefix every tenant database carries, so ops can tell them apart at a glance. */
export const TENANT_DB_PREFIX = 'org_';

/** Collection in every tenant database describing whose it is. */
export const TENANT_META_COLLECTION = '_tenant_meta';
