export const JWT_ALGORITHM = 'HS256';
/** The passport strategy name the global guard authenticates with. */
export const JWT_STRATEGY = 'jwt';
export const IS_PUBLIC_KEY = 'auth:isPublic';
export const IS_OPTIONAL_AUTH_KEY = 'auth:isOptional';
export const ACCEPTS_ENDED_SESSION_KEY = 'auth:acceptsEndedSession';

/** Master-database collection of recent password attempts (LoginLockoutService). */
export const LOGIN_ATTEMPTS_COLLECTION = 'login_attempts';
