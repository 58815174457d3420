/** Reads a synthesized cloud assembly (cdk.out): manifest.json, stack templates, asset directories. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown; Condition?: string; Export?: unknown; Description?: string }>;
  readonly Parameters?: Record<string, { Type: string; Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
}

export interface AssemblyStack {
  /** Artifact id in the manifest (the construct id of the stack). */
  readonly artifactId: string;
  readonly stackName: string;
  readonly templateFile: string;
  readonly template: CfnTemplate;
}

interface ManifestArtifact {
  readonly type: string;
  readonly properties?: { templateFile?: string; stackName?: string; directoryName?: string };
  readonly displayName?: string;
}

/** Every CloudFormation stack in the assembly (nested stage assemblies included). */
export function readAssembly(assemblyDir: string): AssemblyStack[] {
  const manifestFile = join(assemblyDir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`No cloud assembly at ${assemblyDir} (manifest.json missing): synthesize first`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { artifacts?: Record<string, ManifestArtifact> };
  const stacks: AssemblyStack[] = [];
  for (const [artifactId, a] of Object.entries(manifest.artifacts ?? {})) {
    if (a.type === 'aws:cloudformation:stack' && a.properties?.templateFile) {
      const templateFile = join(assemblyDir, a.properties.templateFile);
      stacks.push({
        artifactId,
        stackName: a.properties.stackName ?? artifactId,
        templateFile,
        template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate,
      });
    } else if (a.type === 'cdk:cloud-assembly' && a.properties?.directoryName) {
      stacks.push(...readAssembly(join(assemblyDir, a.properties.directoryName)));
    }
  }
  return stacks;
}

/** Picks one stack by name or artifact id; with no name, the only stack (error if several). */
export function selectStack(stacks: AssemblyStack[], name?: string): AssemblyStack {
  if (name !== undefined) {
    const s = stacks.find((x) => x.stackName === name || x.artifactId === name);
    if (!s) throw new Error(`Stack "${name}" not in the assembly (found: ${stacks.map((x) => x.stackName).join(', ') || 'none'})`);
    return s;
  }
  if (stacks.length !== 1) throw new Error(`The assembly has ${stacks.length} stacks (${stacks.map((x) => x.stackName).join(', ')}): name one`);
  return stacks[0]!;
}

/**
 * The directory of a Lambda function's bundled code: CDK records it in the resource metadata
 * (`aws:asset:path`, relative to the assembly) when asset metadata is enabled (the CLI default).
 */
export function functionAssetDir(assemblyDir: string, logicalId: string, resource: CfnResource): string {
  const path = resource.Metadata?.['aws:asset:path'];
  if (typeof path === 'string') return join(assemblyDir, path);
  // Without metadata, S3Key is "<hash>.zip" and the staged directory is "asset.<hash>".
  const code = resource.Properties?.Code as { S3Key?: unknown } | undefined;
  const key = typeof code?.S3Key === 'string' ? code.S3Key : undefined;
  const dir = key ? join(assemblyDir, `asset.${key.replace(/\.zip$/, '')}`) : undefined;
  if (dir && existsSync(dir)) return dir;
  throw new Error(`Function ${logicalId}: cannot find its bundled code in ${assemblyDir} (no aws:asset:path metadata, S3Key ${String(key)})`);
}
