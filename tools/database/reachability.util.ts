import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type Reachability = { ok: true } | { ok: false; reason: string };

/**
 * Whether `target` answers HTTP at all within `timeoutMs` (any status counts),
 * through the same proxy variables mongodb-memory-server honours. This is the
 * fail-fast guard in front of its download, which otherwise retries with a
 * 60 s inactivity timeout and can hang for minutes on a filtered network.
 */
export function checkReachable(
  target: string,
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Reachability> {
  const url = new URL(target);
  const proxy = proxyFromEnv(env);
  return new Promise((resolve) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (result: Reachability) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      resolve(result);
    };
    // Covers DNS and TCP connect, which a socket idle timeout does not.
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    timer.unref();
    const port = url.port !== '' ? url.port : url.protocol === 'http:' ? '80' : '443';

    if (proxy !== undefined) {
      const proxyUrl = new URL(proxy);
      const headers: Record<string, string> = { host: `${url.hostname}:${port}` };
      if (proxyUrl.username !== '') {
        const credentials = `${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`;
        headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
      }
      req = httpRequest({
        host: proxyUrl.hostname,
        port: proxyUrl.port !== '' ? proxyUrl.port : 80,
        method: 'CONNECT',
        path: `${url.hostname}:${port}`,
        headers,
        agent: false,
      });
      req.once('connect', (res) => {
        const status = res.statusCode ?? 0;
        finish(
          status >= 200 && status < 300
            ? { ok: true }
            : { ok: false, reason: `proxy ${proxy} answered ${status}` },
        );
      });
      req.once('error', (error) =>
        finish({ ok: false, reason: `proxy ${proxy}: ${describe(error)}` }),
      );
      req.end();
      return;
    }

    const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
    // Certificates are not checked: any answer proves the network path, and
    // mongodb-memory-server itself does not insist on them either.
    req = request(url, { method: 'HEAD', agent: false, rejectUnauthorized: false });
    req.once('response', (res) => {
      res.resume();
      finish({ ok: true });
    });
    req.once('error', (error) => finish({ ok: false, reason: describe(error) }));
    req.end();
  });
}

/** The variables mongodb-memory-server's downloader reads, in its order. */
function proxyFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const names = [
    'yarn_https-proxy',
    'yarn_proxy',
    'npm_config_https-proxy',
    'npm_config_proxy',
    'https_proxy',
    'http_proxy',
    'HTTPS_PROXY',
    'HTTP_PROXY',
  ];
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code)
    ? `${code} ${error.message}`
    : error.message;
}
