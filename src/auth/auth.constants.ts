export const JWT_ALGORITHM = 'HS256';
export const IS_PUBLIC_KEY = 'auth:isPublic';
export const IS_OPTIONAL_AUTH_KEY = 'auth:isOptional';
