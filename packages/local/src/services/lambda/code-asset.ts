/**
 * A function's code as Lambda takes it: a .zip, from an S3 object (Code.S3Bucket/S3Key of a template
 * deployed through the CloudFormation API, UpdateFunctionCode's S3Bucket/S3Key) or given inline
 * (UpdateFunctionCode's ZipFile). It is unpacked once per content into a directory the Lambda host runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { unzipSync } from 'fflate';

/** The code could not be read or unpacked (a permanent error: the same input fails again). */
export class CodeAssetError extends Error {
  override readonly name = 'CodeAssetError';
}

/** Unpacks `zip` into a directory named by its content hash (reused when the same code comes again). */
export function unpackZip(zip: Uint8Array, root: string = join(tmpdir(), 'floodgate-code')): string {
  const hash = createHash('sha256').update(zip).digest('hex').slice(0, 32);
  const dir = join(root, hash);
  if (existsSync(dir)) return dir;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (err) {
    throw new CodeAssetError(`the function code is not a readable .zip file: ${(err as Error).message}`);
  }
  mkdirSync(root, { recursive: true });
  const staging = mkdtempSync(join(root, `${hash}-`));
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) continue;
    const target = normalize(join(staging, name));
    // A zip entry may not write outside its directory ("zip slip").
    if (!target.startsWith(staging + sep)) throw new CodeAssetError(`the function code .zip has an entry outside its root: ${name}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
  try {
    renameSync(staging, dir);
  } catch {
    // Unpacked at the same time by another deployment: theirs is the same content.
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/** Reads s3://bucket/key from the target's S3 and unpacks it. */
export async function codeFromS3(s3: S3Client, bucket: string, key: string, version?: string): Promise<string> {
  let body: Uint8Array;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}) }));
    body = await got.Body!.transformToByteArray();
  } catch (err) {
    throw new CodeAssetError(`cannot read the function code s3://${bucket}/${key}: ${(err as Error).message}`);
  }
  return unpackZip(body);
}
