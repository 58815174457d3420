/**
 * What Lambda's Node.js runtimes provide besides the function's own code: the AWS SDK for JavaScript v3
 * in /var/runtime/node_modules (every `@aws-sdk/*` client and library, with the `@smithy/*` and
 * `@aws-crypto/*` packages they are built from). A function may import them without listing them.
 *
 * Locally a function first resolves as Node does from its own directory (so a bundled, vendored or
 * project-installed SDK wins, as the function's own copy wins on Lambda); only when that fails, and only
 * for these scopes, the import is resolved again from this package's directory, i.e. from what
 * `@floodgate/local` installs. PROVIDED_SDK_PACKAGES is the set it installs for that purpose (its
 * dependencies): importing any of them works whatever the user's project lists. Other `@aws-sdk/*`
 * packages resolve only if something else installed them (the user's project, hoisted), and otherwise
 * fail with Lambda's own error, plus a hint in the function's logs.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Package scopes Lambda's Node.js runtimes ship (prefixes of a bare import specifier). */
export const LAMBDA_RUNTIME_SCOPES: readonly string[] = ['@aws-sdk/', '@smithy/', '@aws-crypto/'];

/**
 * The runtime-provided packages `@floodgate/local` itself depends on, so a function finds them even
 * when its project does not list them: the clients of the services the local stack serves and the
 * DynamoDB libraries handlers most often take from the runtime.
 */
export const PROVIDED_SDK_PACKAGES: readonly string[] = [
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-sqs',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/util-dynamodb',
];

/** The directory imports of runtime-provided packages are resolved from when the function's own resolution fails. */
export const PROVIDED_SDK_FROM_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** True when Lambda's runtime would provide `specifier` (a bare import of one of its scopes). */
export function isRuntimeProvided(specifier: string): boolean {
  return LAMBDA_RUNTIME_SCOPES.some((s) => specifier.startsWith(s));
}

/** Where each package of PROVIDED_SDK_PACKAGES resolves from here, and its version (undefined when it does not). */
export function providedSdk(fromDir: string = PROVIDED_SDK_FROM_DIR): ReadonlyArray<{ readonly name: string; readonly version?: string; readonly path?: string }> {
  const req = createRequire(`${fromDir.replace(/\/?$/, '/')}noop.js`);
  return PROVIDED_SDK_PACKAGES.map((name) => {
    try {
      const path = req.resolve(name);
      let version: string | undefined;
      try {
        version = (req(`${name}/package.json`) as { version?: string }).version;
      } catch {
        // an exports map without ./package.json: the version stays unknown
      }
      return { name, path, ...(version ? { version } : {}) };
    } catch {
      return { name };
    }
  });
}
