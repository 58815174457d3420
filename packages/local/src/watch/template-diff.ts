/**
 * Which resources a new template adds, changes or removes, by logical id (Type, Properties, DependsOn
 * and Condition compared; Metadata is not). Pure: `up --watch` uses it to refuse, before anything is
 * changed, a template change the running stack cannot take live.
 */
import type { CfnResource, CfnTemplate } from '../core/deployment/assembly.js';

export interface TemplateChange {
  readonly logicalId: string;
  readonly action: 'Add' | 'Modify' | 'Remove';
  /** The resource as the new template has it (as the old one had it, for Remove). */
  readonly resource: CfnResource;
}

const shape = (r: CfnResource): string => JSON.stringify({ t: r.Type, p: r.Properties ?? {}, d: r.DependsOn ?? [], c: r.Condition ?? null });

export function templateChanges(before: CfnTemplate, after: CfnTemplate): TemplateChange[] {
  const out: TemplateChange[] = [];
  const old = before.Resources ?? {};
  const next = after.Resources ?? {};
  for (const [logicalId, r] of Object.entries(next)) {
    const o = old[logicalId];
    if (!o) out.push({ logicalId, action: 'Add', resource: r });
    else if (shape(o) !== shape(r)) out.push({ logicalId, action: 'Modify', resource: r });
  }
  for (const [logicalId, r] of Object.entries(old)) if (!next[logicalId]) out.push({ logicalId, action: 'Remove', resource: r });
  return out;
}
