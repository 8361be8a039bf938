/**
 * What the torture test records: one entry per client request with its
 * answer, and one per fault the nemesis injected. The checker reads the
 * request entries; the fault entries are there for a human reading a failure.
 */

export type RequestKind =
  | 'org.create'
  | 'org.rename'
  | 'org.delete'
  | 'member.create'
  | 'member.update'
  | 'member.delete'
  | 'admin.add'
  | 'admin.role'
  | 'admin.remove'
  | 'admin.list'
  | 'login';

/** A member as a write sets it: every write replaces all three fields. */
export interface MemberValue {
  name: string;
  role: string;
  metadata: Record<string, string | number | boolean | null>;
}

/** The parts of a response the checker and a reader need; never a token. */
export interface ResponseSummary {
  id?: string;
  organization_id?: string;
  organization_name?: string;
  slug?: string;
  database_name?: string;
  email?: string;
  role?: string;
  detail?: string;
}

export interface RequestEntry {
  type: 'request';
  seq: number;
  client: string;
  /** Index of the service process the request was sent to. */
  process: number;
  /** `run` while the nemesis is active; `final` for the checks after repair. */
  phase: 'run' | 'final';
  kind: RequestKind;
  /** The organization acted on (every kind but `org.create`). */
  org?: string;
  /**
   * Who or what the request is about: the owner email of a create, the
   * member email of a member write, the admin email of a team write, the
   * email of a login.
   */
  subject?: string;
  /**
   * What a write sets: the name of a create or rename, the member of a
   * member create or update, the role of an admin add or role change.
   */
  value?: string | MemberValue;
  /** A login that took over an organization whose create got no answer: that create's `seq`. */
  adopts?: number;
  method: string;
  path: string;
  /** Milliseconds since the run started. */
  start: number;
  end: number;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  /** The problem+json `code` of an error answer. */
  code?: string;
  /** Why no answer came: the client's timeout, a refused connection, or another network error. */
  error?: 'timeout' | 'refused' | 'network';
  body?: ResponseSummary;
}

export interface FaultEntry {
  type: 'fault';
  seq: number;
  action: 'pause' | 'resume' | 'kill' | 'restart';
  process: number;
  /** Milliseconds since the run started. */
  at: number;
  pid?: number;
}

export type HistoryEntry = RequestEntry | FaultEntry;

/** A 2xx answer, except 202 Accepted: a rename or delete accepted to run on, whose outcome is still open. */
export function isAcknowledged(entry: RequestEntry): boolean {
  return entry.status !== null && entry.status >= 200 && entry.status < 300 && entry.status !== 202;
}

/**
 * Answers that prove the write did not happen: refused before anything was
 * written (validation, authentication, permission), 409 `ORG_BUSY`, or a
 * connection that was never accepted. Every other non-2xx answer, a timeout
 * and a network error leave the outcome open.
 */
export function isRefused(entry: RequestEntry): boolean {
  if (entry.error === 'refused') return true;
  if (entry.status === null) return false;
  if (entry.status === 400 || entry.status === 401 || entry.status === 403) return true;
  return entry.status === 409 && entry.code === 'ORG_BUSY';
}

export type Outcome = 'acknowledged' | 'refused' | 'unknown';

export function outcomeOf(entry: RequestEntry): Outcome {
  if (isAcknowledged(entry)) return 'acknowledged';
  return isRefused(entry) ? 'refused' : 'unknown';
}
