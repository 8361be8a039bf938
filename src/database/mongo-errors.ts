/** Duplicate key, as MongoDB and FerretDB both report it (FerretDB omits keyValue). */
export function isDuplicateKeyError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}
