// Runs the @nestjs/swagger CLI plugin inside ts-jest for the e2e suite, so
// the OpenAPI document under test is the one `nest build` produces. ts-jest
// expects `{ name, version, factory }`; the plugin exports `before`.
const plugin = require('@nestjs/swagger/plugin');

module.exports = {
  name: 'nestjs-swagger-plugin',
  version: '1',
  factory: (tsCompiler, options) => plugin.before(options, tsCompiler.program),
};
