#!/usr/bin/env node
/**
 * `floodgate-local`: the local stack for any CDK app. This file only checks the Node version (with
 * nothing but built-ins loaded, so an old Node gets a message, not a syntax error) and hands over.
 * For `up` on the embedded emulators it first starts DynamoDB Local (a JVM, the longest part of `up`),
 * so that the JVM starts while the rest of the CLI loads and the app is synthesized.
 */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 5)) {
  process.stderr.write(`floodgate-local needs Node.js 22.5 or newer; this is Node.js ${process.versions.node}. Install Node 22 or 24 (https://nodejs.org, or \`nvm install 24\`).\n`);
  process.exit(2);
}
await prestart(process.argv.slice(2));
const { main } = await import('./cli/main.js');
process.exitCode = await main(process.argv.slice(2));

async function prestart(argv: readonly string[]): Promise<void> {
  try {
    const { parseCli } = await import('./cli/args.js');
    const args = parseCli(argv);
    // Not with --data-dir: its tables are in DIR, and this JVM would keep them in memory.
    if (args.command !== 'up' || args.endpoint !== undefined || args.dataDir !== undefined) return;
    const { checkPrerequisites } = await import('./prerequisites.js');
    checkPrerequisites(); // remembered: main's own check costs nothing more
    (await import('./dynamodb-local.js')).prestartDynamoDbLocal();
  } catch {
    // main reports usage errors and missing prerequisites, with its exit codes
  }
}
export {};
