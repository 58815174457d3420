// A CommonJS jest project, as `cdk init app --language typescript` sets one up (no ESM flags).
module.exports = { testEnvironment: 'node', testMatch: ['**/*.jest.test.cjs'], rootDir: __dirname, testTimeout: 120000 };
