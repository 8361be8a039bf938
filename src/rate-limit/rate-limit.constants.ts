/** Master-database collection of the rate-limit counters (MongoThrottlerStorage). */
export const RATE_LIMIT_COLLECTION = 'rate_limits';
