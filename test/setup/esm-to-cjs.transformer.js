// Nest 12 and a few of its dependencies ship ES modules only. The service
// itself loads them through Node's require(esm); Jest's module loader cannot
// on Node 20, so ESM files under node_modules are compiled to CommonJS with
// swc, and everything else is passed through untouched.
const { createTransformer } = require('@swc/jest');

const swc = createTransformer({ jsc: { target: 'es2023' }, module: { type: 'commonjs' } });
// Linear: only horizontal space may sit between a line start (or `;`) and the keyword.
const ESM_SYNTAX = /(?:^|[\n;])[^\S\n]*(?:import\s*[\w{*'"]|export\s*[\w{*])/;

module.exports = {
  process(source, filename, options) {
    if (!ESM_SYNTAX.test(source)) return { code: source };
    return swc.process(source, filename, options);
  },
  getCacheKey(source, filename, options) {
    return swc.getCacheKey(source, filename, options) + (ESM_SYNTAX.test(source) ? ':esm' : ':cjs');
  },
};
