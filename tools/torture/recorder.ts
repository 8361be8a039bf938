import { createWriteStream, type WriteStream } from 'node:fs';
import type { FaultEntry, HistoryEntry, RequestEntry, ResponseSummary } from './history';

type Json = Record<string, unknown>;

/** What a client sends: the history entry's own fields, before the answer. */
export interface RequestSpec extends Pick<
  RequestEntry,
  'client' | 'process' | 'phase' | 'kind' | 'org' | 'subject' | 'value' | 'adopts'
> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  token?: string;
}

export interface Sent {
  entry: RequestEntry;
  /** The parsed JSON answer, or null (no answer, no body, not JSON). */
  body: Json | null;
}

/**
 * The run's history: every request with its answer and every injected fault,
 * kept in memory for the checker and appended to a JSONL file as it happens.
 * Sequence numbers are taken when a request is sent, so `seq` order is the
 * order in which requests started.
 */
export class Recorder {
  readonly entries: HistoryEntry[] = [];
  private seq = 0;
  private readonly out: WriteStream;

  constructor(
    file: string,
    private readonly urls: () => readonly string[],
    private readonly timeoutMs: number,
    private readonly t0 = performance.now(),
  ) {
    this.out = createWriteStream(file, { flags: 'a' });
  }

  /** Milliseconds since the run started, to 0.1 ms. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  fault(action: FaultEntry['action'], process: number, pid?: number): void {
    this.add({ type: 'fault', seq: ++this.seq, action, process, at: this.now(), pid });
  }

  async send(spec: RequestSpec): Promise<Sent> {
    const seq = ++this.seq;
    const start = this.now();
    const url = `${this.urls()[spec.process]}${spec.path}`;
    const headers: Record<string, string> = {};
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (spec.token) headers.authorization = `Bearer ${spec.token}`;
    let status: number | null;
    let body: Json | null = null;
    let error: RequestEntry['error'];
    try {
      const res = await fetch(url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        // Covers the body too: a process paused mid-answer must not hang the client.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      status = res.status;
      body = parseObject(text);
    } catch (e) {
      status = null;
      error = classify(e);
    }
    const entry: RequestEntry = {
      type: 'request',
      seq,
      client: spec.client,
      process: spec.process,
      phase: spec.phase,
      kind: spec.kind,
      method: spec.method,
      path: spec.path,
      start,
      end: this.now(),
      status,
    };
    const org = spec.org ?? (spec.kind === 'login' ? idAt(body, 'organization') : undefined);
    if (org !== undefined) entry.org = org;
    if (spec.subject !== undefined) entry.subject = spec.subject;
    if (spec.value !== undefined) entry.value = spec.value;
    if (spec.adopts !== undefined) entry.adopts = spec.adopts;
    if (error) entry.error = error;
    if (status !== null && status >= 400 && typeof body?.code === 'string') entry.code = body.code;
    const summary = summarize(body);
    if (summary) entry.body = summary;
    this.add(entry);
    return { entry, body };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }

  private add(entry: HistoryEntry): void {
    this.entries.push(entry);
    this.out.write(`${JSON.stringify(entry)}\n`);
  }
}

function parseObject(text: string): Json | null {
  if (text === '') return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Json)
      : null;
  } catch {
    return null;
  }
}

function classify(error: unknown): RequestEntry['error'] {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'timeout';
  }
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'ECONNREFUSED' ? 'refused' : 'network';
}

function idAt(body: Json | null, key: string): string | undefined {
  const inner = body?.[key];
  if (inner === null || typeof inner !== 'object') return undefined;
  const id = (inner as Json).id;
  return typeof id === 'string' ? id : undefined;
}

/** The identifying fields of an answer; never a token or a password. */
function summarize(body: Json | null): ResponseSummary | undefined {
  if (!body) return undefined;
  const out: ResponseSummary = {};
  const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const admin = body.admin !== null && typeof body.admin === 'object' ? (body.admin as Json) : null;
  const organization =
    body.organization !== null && typeof body.organization === 'object'
      ? (body.organization as Json)
      : null;
  const fields: [keyof ResponseSummary, string | undefined][] = [
    ['id', str(body.id) ?? (organization ? str(admin?.id) : undefined)],
    ['organization_id', str(organization?.id)],
    ['organization_name', str(body.organization_name) ?? str(organization?.organization_name)],
    ['slug', str(body.slug)],
    ['database_name', str(body.database_name)],
    ['email', str(body.email) ?? str(admin?.email)],
    ['role', str(body.role) ?? str(admin?.role)],
    ['detail', str(body.detail)],
  ];
  for (const [key, value] of fields) if (value !== undefined) out[key] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}
