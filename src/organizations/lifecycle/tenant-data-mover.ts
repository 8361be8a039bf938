import { Injectable } from '@nestjs/common';
import {
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  type IndexDescription,
  MongoBulkWriteError,
  type ObjectId,
  type WriteError,
} from 'mongodb';
import { DomainError } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { TENANT_META_COLLECTION } from '../../database/database.constants';

export interface CopyReport {
  collections: number;
  documents: number;
  indexes: number;
}

export class CopyVerificationError extends Error {
  constructor(readonly mismatches: string[]) {
    super(`Copy verification failed: ${mismatches.join('; ')}`);
    this.name = 'CopyVerificationError';
  }
}

export interface CopyOptions {
  batchSize: number;
  /**
   * Runs every write to the target (collection, batch, index build) fenced:
   * checked before, and taken back with `undo` if it turns out to have
   * landed after the operation was taken over.
   */
  write: <T>(write: () => Promise<T>, undo?: (result: T) => Promise<unknown>) => Promise<T>;
  /** Told after each batch has landed: documents copied so far, of the total counted at the start. */
  progress?: (copied: number, total: number) => void;
}

interface CollectionInfo {
  name: string;
  type?: string;
  options?: Document;
}

async function listCopyable(db: Db): Promise<CollectionInfo[]> {
  const infos = (await db.listCollections({}, { nameOnly: false }).toArray()) as CollectionInfo[];
  return (
    infos
      // The metadata says whose a database is; each side keeps its own.
      .filter((c) => !c.name.startsWith('system.') && c.name !== TENANT_META_COLLECTION)
      .sort((a, b) => a.name.localeCompare(b.name))
  );
}

/** Index specs minus the fields the server owns (`v`, `ns`) and the implicit `_id_`. */
async function indexSpecs(db: Db, collection: string): Promise<IndexDescription[]> {
  const indexes = await db.collection(collection).listIndexes().toArray();
  return indexes
    .filter((ix: Document) => ix.name !== '_id_')
    .map(({ v: _v, ns: _ns, key, ...options }: Document) => ({
      key: key as IndexDescription['key'],
      ...options,
    }));
}

async function countDocuments(db: Db, infos: CollectionInfo[]): Promise<number> {
  let total = 0;
  for (const info of infos) {
    if (info.type !== 'view') total += await db.collection(info.name).countDocuments({});
  }
  return total;
}

/**
 * Copies every collection, document and index of one database into another,
 * and verifies the result. Only features shared by MongoDB 7 and FerretDB
 * 1.24 are used: no transactions, no $out/$merge across databases.
 */
@Injectable()
export class TenantDataMover {
  async copy(source: Db, target: Db, options: CopyOptions): Promise<CopyReport> {
    const report: CopyReport = { collections: 0, documents: 0, indexes: 0 };
    const copyable = await listCopyable(source);
    const total = options.progress ? await countDocuments(source, copyable) : 0;
    let copied = 0;
    const landed = (documents: number) => {
      copied += documents;
      options.progress?.(copied, total);
    };
    for (const info of copyable) {
      if (info.type === 'view') {
        await options.write(() => createCollection(target, info.name, info.options ?? {}));
        report.collections += 1;
        continue;
      }
      await options.write(() => createCollection(target, info.name, info.options ?? {}));
      report.documents += await this.copyDocuments(source, target, info.name, options, landed);
      // Indexes after the documents: building once is cheaper than
      // maintaining them through every batch insert.
      const specs = await indexSpecs(source, info.name);
      if (specs.length > 0) {
        await options.write(() => target.collection(info.name).createIndexes(specs));
      }
      report.indexes += specs.length;
      report.collections += 1;
    }
    return report;
  }

  private async copyDocuments(
    source: Db,
    target: Db,
    collection: string,
    options: CopyOptions,
    landed: (documents: number) => void,
  ): Promise<number> {
    const cursor = source.collection(collection).find({}, { batchSize: options.batchSize });
    const destination = target.collection(collection);
    let copied = 0;
    let batch: Document[] = [];
    // The next batch is read while the previous one is written.
    let inFlight: Promise<unknown> = Promise.resolve();
    const flush = async (docs: Document[]) => {
      await inFlight;
      const write = options
        .write(
          () => insertBatch(destination, docs),
          // Landed after a take-over, perhaps in a database another operation
          // now owns (a retry's copy holds the same ids): remove exactly what
          // this batch inserted, never a document it collided with.
          (batchResult) => destination.deleteMany({ _id: { $in: batchResult.inserted } }),
        )
        .then((batchResult) => {
          if (batchResult.error) throw batchResult.error;
          landed(docs.length);
        });
      // Observed now so a failure while the next batch is read is not an
      // unhandled rejection; it is rethrown where `inFlight` is awaited.
      write.catch(() => undefined);
      inFlight = write;
      copied += docs.length;
    };
    for await (const doc of cursor) {
      batch.push(doc);
      if (batch.length >= options.batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await flush(batch);
    await inFlight;
    return copied;
  }

  /** Same collections, same document counts and same index names on both sides. */
  async verify(source: Db, target: Db): Promise<void> {
    const mismatches: string[] = [];
    const [from, to] = await Promise.all([listCopyable(source), listCopyable(target)]);
    const toNames = new Set(to.map((c) => c.name));
    for (const info of from) {
      if (!toNames.has(info.name)) {
        mismatches.push(`collection ${info.name} missing`);
        continue;
      }
      if (info.type === 'view') continue;
      const [a, b, ia, ib] = await Promise.all([
        source.collection(info.name).countDocuments({}),
        target.collection(info.name).countDocuments({}),
        indexSpecs(source, info.name),
        indexSpecs(target, info.name),
      ]);
      if (a !== b) mismatches.push(`${info.name}: ${a} documents in source, ${b} in target`);
      const names = (specs: IndexDescription[]) =>
        specs
          .map((s) => s.name)
          .sort()
          .join(',');
      if (names(ia) !== names(ib)) mismatches.push(`${info.name}: indexes differ`);
    }
    if (to.length !== from.length) mismatches.push('target has extra collections');
    if (mismatches.length > 0) throw new CopyVerificationError(mismatches);
  }
}

/**
 * Inserts a batch unordered and says which documents it inserted: a batch
 * that fails on some (a duplicate id) has still inserted the others, and
 * the fence check after a write must be able to take exactly those back.
 * The failure is returned, not thrown, so that check runs first. When the
 * outcome cannot be told (the driver wraps a dropped connection or a
 * command-level error the same way, with no per-document errors), nothing
 * counts as inserted: deleting every id could delete a live copy's documents.
 */
export async function insertBatch(
  destination: Collection,
  docs: Document[],
): Promise<{ inserted: ObjectId[]; error?: Error }> {
  // Copied documents keep their ids; typed as ObjectId for the driver's filter only.
  const ids = docs.map((document) => document._id as ObjectId);
  const ops: AnyBulkWriteOperation[] = docs.map((document) => ({ insertOne: { document } }));
  try {
    await destination.bulkWrite(ops, { ordered: false });
    return { inserted: ids };
  } catch (error) {
    const writeErrors: WriteError[] =
      error instanceof MongoBulkWriteError ? ([] as WriteError[]).concat(error.writeErrors) : [];
    const failed = new Set(writeErrors.map((writeError) => writeError.index));
    const accountedFor =
      error instanceof MongoBulkWriteError &&
      failed.size > 0 &&
      error.result.insertedCount + failed.size === ids.length;
    if (!accountedFor) return { inserted: [], error: outcomeUnknown() };
    return { inserted: ids.filter((_, index) => !failed.has(index)), error: error };
  }
}

/** The copy stops (and is rolled back) on a write the database did not confirm: a transient failure. */
const outcomeUnknown = () =>
  new DomainError(
    ErrorCode.SERVICE_UNAVAILABLE,
    'The database did not confirm a write of the copy; nothing changed, retry shortly.',
  );

const NAMESPACE_EXISTS = 48;

/**
 * Creates a collection of the copy. A late write to this (claimed, empty)
 * database may have created it first, without the source's options: still
 * empty, it is made again as the source has it.
 */
async function createCollection(target: Db, name: string, options: Document): Promise<void> {
  try {
    await target.createCollection(name, options);
  } catch (error) {
    if ((error as { code?: unknown }).code !== NAMESPACE_EXISTS) throw error;
    if ((await target.collection(name).countDocuments({}, { limit: 1 })) > 0) throw error;
    await target.collection(name).drop();
    await target.createCollection(name, options);
  }
}
