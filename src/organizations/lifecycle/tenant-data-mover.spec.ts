import { MongoBulkWriteError, MongoNetworkError, ObjectId, type Collection } from 'mongodb';
import { ErrorCode } from '../../common/errors/error-codes';
import { insertBatch } from './tenant-data-mover';

/** A collection whose unordered bulk insert ends the way `outcome` says. */
const collectionThat = (outcome: () => Promise<unknown>) =>
  ({ bulkWrite: jest.fn(outcome) }) as unknown as Collection;

/** The driver's error for an unordered insert: per-document errors, and how many went in. */
function bulkError(failedIndexes: number[], insertedCount: number): MongoBulkWriteError {
  const error = Object.create(MongoBulkWriteError.prototype) as MongoBulkWriteError;
  Object.assign(error, {
    message: 'E11000 duplicate key error',
    writeErrors: failedIndexes.map((index) => ({ index, code: 11000 })),
    result: { insertedCount },
  });
  return error;
}

describe('insertBatch', () => {
  const docs = Array.from({ length: 5 }, () => ({ _id: new ObjectId() }));
  const ids = docs.map((d) => d._id);

  it('reports every document of a batch that went in', async () => {
    const result = await insertBatch(
      collectionThat(() => Promise.resolve({})),
      docs,
    );
    expect(result).toEqual({ inserted: ids });
  });

  it('reports exactly the documents that went in when the others hit duplicates, and the error', async () => {
    const error = bulkError([1, 3], 3);
    const result = await insertBatch(
      collectionThat(() => Promise.reject(error)),
      docs,
    );
    expect(result.inserted).toEqual([ids[0], ids[2], ids[4]]);
    expect(result.error).toBe(error);
  });

  it.each([
    [
      'a bulk error without per-document errors (a dropped connection, as the driver wraps it)',
      () => bulkError([], 0),
    ],
    ['per-document errors that do not account for the batch', () => bulkError([1], 1)],
    ['a network error', () => new MongoNetworkError('connection reset')],
  ])('counts nothing as inserted after %s, and answers 503', async (_, error) => {
    const result = await insertBatch(
      collectionThat(() => Promise.reject(error())),
      docs,
    );
    expect(result.inserted).toEqual([]);
    expect(result.error).toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });
});
