/** Benchmark data: a master database with organizations and admins, and one large tenant. */
import { ObjectId, type Db, type Document, type IndexDescription } from 'mongodb';

/** Deterministic pseudo-random numbers (mulberry32), so every run copies the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CITIES = ['Lisbon', 'Berlin', 'Lima', 'Osaka', 'Nairobi', 'Toronto', 'Perth', 'Oslo'];
const STATUSES = ['placed', 'paid', 'shipped', 'delivered', 'cancelled'];
const EVENT_TYPES = ['login', 'logout', 'view', 'update', 'export', 'invite'];
const EPOCH = Date.UTC(2024, 0, 1);

export interface TenantCollection {
  name: string;
  share: number;
  indexes: IndexDescription[];
  make: (i: number, r: () => number) => Document;
}

/**
 * The tenant's collections: share of the documents, a document maker and
 * the indexes, so the copy moves mixed shapes (nested objects, arrays,
 * dates, doubles) and rebuilds unique and compound indexes.
 */
export const TENANT_COLLECTIONS: TenantCollection[] = [
  {
    name: 'customers',
    share: 0.4,
    indexes: [{ key: { email: 1 }, unique: true }, { key: { created_at: -1 } }],
    make: (i, r) => ({
      _id: new ObjectId(),
      customer_no: i,
      name: `Customer ${i}`,
      email: `customer${i}@tenant.test`,
      phone: `+1-555-${String(i % 10000).padStart(4, '0')}`,
      address: {
        street: `${1 + (i % 999)} Market Street`,
        city: CITIES[i % CITIES.length],
        zip: String(10000 + Math.floor(r() * 89999)),
      },
      tags: ['tier-' + (i % 3), 'region-' + (i % 5)],
      active: r() > 0.2,
      balance: Math.round(r() * 1e6) / 100,
      created_at: new Date(EPOCH + i * 60_000),
    }),
  },
  {
    name: 'orders',
    share: 0.3,
    indexes: [{ key: { customer_no: 1, placed_at: -1 } }, { key: { status: 1 } }],
    make: (i, r) => {
      const items: { sku: string; qty: number; price: number }[] = [];
      for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
        items.push({
          sku: `SKU-${Math.floor(r() * 5000)}`,
          qty: 1 + Math.floor(r() * 4),
          price: Math.round(r() * 20000) / 100,
        });
      }
      return {
        _id: new ObjectId(),
        order_no: i,
        customer_no: Math.floor(r() * 40000),
        items,
        total: items.reduce((sum, item) => sum + item.qty * item.price, 0),
        status: STATUSES[i % STATUSES.length],
        placed_at: new Date(EPOCH + i * 90_000),
      };
    },
  },
  {
    name: 'events',
    share: 0.2,
    indexes: [{ key: { at: 1 } }],
    make: (i, r) => ({
      _id: new ObjectId(),
      type: EVENT_TYPES[i % EVENT_TYPES.length],
      actor: `user${Math.floor(r() * 500)}`,
      payload: {
        ip: `10.0.${i % 256}.${Math.floor(r() * 256)}`,
        ok: r() > 0.05,
        attempt: 1 + (i % 3),
      },
      at: new Date(EPOCH + i * 15_000),
    }),
  },
  {
    name: 'invoices',
    share: 0.1,
    indexes: [{ key: { invoice_no: 1 }, unique: true }],
    make: (i, r) => ({
      _id: new ObjectId(),
      invoice_no: `INV-${String(i).padStart(7, '0')}`,
      order_no: Math.floor(r() * 30000),
      amount: Math.round(r() * 500000) / 100,
      currency: i % 4 === 0 ? 'EUR' : 'USD',
      paid: r() > 0.3,
      due: new Date(EPOCH + i * 86_400_000),
      note: 'Payable within 30 days of the invoice date.',
    }),
  },
];

/** Fills `db` with `total` documents over the tenant collections; returns the document count. */
export async function seedTenant(
  db: Db,
  total: number,
  { batchSize = 5000 } = {},
): Promise<number> {
  const r = prng(42);
  let written = 0;
  for (const [index, spec] of TENANT_COLLECTIONS.entries()) {
    const last = index === TENANT_COLLECTIONS.length - 1;
    const count = last ? total - written : Math.round(total * spec.share);
    const collection = db.collection(spec.name);
    for (let start = 0; start < count; start += batchSize) {
      const docs: Document[] = [];
      for (let i = start; i < Math.min(count, start + batchSize); i++) docs.push(spec.make(i, r));
      await collection.insertMany(docs, { ordered: false });
    }
    await collection.createIndexes(spec.indexes);
    written += count;
  }
  return written;
}

/**
 * `count` organizations written the way the service writes them (record,
 * slug reservation, owner admin), so the master database is not trivially
 * small. They have no tenant database; nothing benchmarked reads one.
 */
export async function seedFillerOrganizations(
  master: Db,
  { count, passwordHash, tag }: { count: number; passwordHash: string; tag: string },
): Promise<void> {
  const now = new Date();
  const orgs: Document[] = [];
  const slugs: Document[] = [];
  const admins: Document[] = [];
  for (let i = 0; i < count; i++) {
    const slug = `filler_${tag}_${i}`;
    const _id = new ObjectId();
    orgs.push({
      _id,
      name: `Filler ${tag} ${i}`,
      slug,
      database_name: `org_${slug}`,
      cluster: null,
      pending: null,
      created_at: now,
      updated_at: now,
    });
    slugs.push({ _id: slug, organization_id: _id, created_at: now });
    admins.push({
      _id: new ObjectId(),
      email: `owner-${i}@filler-${tag}.test`,
      password_hash: passwordHash,
      organization_id: _id,
      role: 'owner',
      credentials_version: 0,
      created_at: now,
      updated_at: now,
    });
  }
  if (count === 0) return;
  await master.collection('organizations').insertMany(orgs, { ordered: false });
  await master.collection('organization_slugs').insertMany(slugs, { ordered: false });
  await master.collection('admins').insertMany(admins, { ordered: false });
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Creates an organization through the service's own API; resolves to its owner's token. */
export async function createOrganization(
  baseUrl: string,
  { name, email, password }: { name: string; email: string; password: string },
): Promise<string> {
  await postJson(`${baseUrl}/org/create`, { organization_name: name, email, password });
  const login = (await postJson(`${baseUrl}/admin/login`, { email, password })) as {
    access_token: string;
  };
  return login.access_token;
}
