/** Master-database collections owned by the security module. */
export const RATE_LIMIT_COLLECTION = 'rate_limits';
export const LOGIN_ATTEMPTS_COLLECTION = 'login_attempts';

/** How often expired rate-limit, lock-out and revocation entries are deleted. */
export const PURGE_INTERVAL_MS = 60_000;
