import { dropTestDatabases } from '../utils/test-databases';

// A root-level hook: it runs after every describe block's own afterAll, so
// the file's apps have closed (or are closed here) before their databases go.
afterAll(dropTestDatabases);
