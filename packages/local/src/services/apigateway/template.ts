/**
 * What the local front needs from a synthesized template: the HTTP API's routes (method, path pattern,
 * authorization, target function), the `$default` stage's throttle, and the functions behind routes.
 */
import type { CfnResource, CfnTemplate } from '../../core/deployment/assembly.js';
import { modelOf, type DeploymentModel } from '../../core/deployment/model.js';
import type { ThrottleSettings } from './throttle.js';

export interface ApiRoute {
  readonly routeKey: string;
  /** `ANY` or an HTTP method. */
  readonly method: string;
  /** Path pattern with `{name}` and `{name+}` parameters; `$default` matches everything. */
  readonly path: string;
  readonly authorizationType: 'NONE' | 'AWS_IAM' | 'JWT' | 'CUSTOM';
  readonly functionLogicalId: string;
  readonly payloadFormatVersion: string;
}

export interface ApiDefinition {
  readonly apiLogicalId: string;
  readonly routes: readonly ApiRoute[];
  /** Undefined when the stage sets no throttle (API Gateway then applies only account limits). */
  readonly throttle?: ThrottleSettings;
}

const byType = (m: DeploymentModel, type: string): [string, CfnResource][] => m.ofType(type).map((r) => [r.logicalId, r.resource]);

function refId(v: unknown): string | undefined {
  if (v !== null && typeof v === 'object' && 'Ref' in v && typeof v.Ref === 'string') return v.Ref;
  return undefined;
}

/** The logical id of the function an integration URI points at (`Fn::GetAtt [fn, Arn]` or a Join around it). */
function functionOf(uri: unknown): string | undefined {
  if (uri === null || typeof uri !== 'object') return undefined;
  if ('Fn::GetAtt' in uri && Array.isArray(uri['Fn::GetAtt'])) return String(uri['Fn::GetAtt'][0]);
  for (const v of Object.values(uri)) {
    const found = Array.isArray(v) ? v.map(functionOf).find((x) => x !== undefined) : functionOf(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function readApiDefinition(source: CfnTemplate | DeploymentModel, apiLogicalId?: string): ApiDefinition {
  // The deployment model: routes and stages a Condition leaves out are not served.
  const template = modelOf(source);
  const apis = byType(template, 'AWS::ApiGatewayV2::Api').filter(([, r]) => r.Properties?.ProtocolType === 'HTTP');
  const chosen = apiLogicalId === undefined ? apis : apis.filter(([id]) => id === apiLogicalId);
  if (chosen.length !== 1) {
    throw new Error(`Expected one HTTP API${apiLogicalId ? ` named ${apiLogicalId}` : ''} in the template, found ${chosen.length} (${apis.map(([id]) => id).join(', ') || 'none'}): pass apiLogicalId`);
  }
  const [apiId] = chosen[0]!;
  const integrations = new Map<string, { fn: string; version: string }>();
  for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Integration')) {
    if (refId(r.Properties?.ApiId) !== apiId) continue;
    const fn = functionOf(r.Properties?.IntegrationUri);
    if (fn !== undefined) integrations.set(id, { fn, version: String(r.Properties?.PayloadFormatVersion ?? '2.0') });
  }
  const routes: ApiRoute[] = [];
  for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Route')) {
    const p = r.Properties ?? {};
    if (refId(p.ApiId) !== apiId) continue;
    const routeKey = String(p.RouteKey);
    // Target: "integrations/<ref>" as a Join of the literal and a Ref.
    const target = JSON.stringify(p.Target ?? '');
    const integrationId = [...integrations.keys()].find((i) => target.includes(`"${i}"`));
    if (integrationId === undefined) throw new Error(`Route ${id} (${routeKey}) has no Lambda integration the local front can run`);
    const integration = integrations.get(integrationId)!;
    const [method, path] = routeKey === '$default' ? ['ANY', '$default'] : (routeKey.split(' ') as [string, string]);
    routes.push({
      routeKey,
      method,
      path,
      authorizationType: (p.AuthorizationType as ApiRoute['authorizationType'] | undefined) ?? 'NONE',
      functionLogicalId: integration.fn,
      payloadFormatVersion: integration.version,
    });
  }
  const stage = byType(template, 'AWS::ApiGatewayV2::Stage').find(([, r]) => refId(r.Properties?.ApiId) === apiId && r.Properties?.StageName === '$default');
  const settings = stage?.[1].Properties?.DefaultRouteSettings as { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number } | undefined;
  const throttle =
    settings?.ThrottlingRateLimit !== undefined || settings?.ThrottlingBurstLimit !== undefined
      ? { rateLimit: Number(settings.ThrottlingRateLimit ?? 10_000), burstLimit: Number(settings.ThrottlingBurstLimit ?? 5_000) }
      : undefined;
  return { apiLogicalId: apiId, routes, ...(throttle === undefined ? {} : { throttle }) };
}

export interface RouteMatch {
  readonly route: ApiRoute;
  readonly pathParameters?: Record<string, string>;
}

/** API Gateway's route selection: exact routes first, then the most specific parameterized one, then `$default`. */
export function matchRoute(routes: readonly ApiRoute[], method: string, rawPath: string): RouteMatch | undefined {
  const segments = rawPath.split('/').slice(1);
  const candidates: { match: RouteMatch; score: number }[] = [];
  for (const route of routes) {
    if (route.path === '$default') {
      candidates.push({ match: { route }, score: -1 });
      continue;
    }
    if (route.method !== 'ANY' && route.method !== method) continue;
    const pattern = route.path.split('/').slice(1);
    const params: Record<string, string> = {};
    let ok = true;
    let score = 0;
    for (let i = 0; i < pattern.length && ok; i++) {
      const p = pattern[i]!;
      const greedy = /^\{(.+)\+\}$/.exec(p);
      if (greedy) {
        if (i >= segments.length) ok = false;
        else params[greedy[1]!] = decodeURIComponent(segments.slice(i).join('/'));
        if (i !== pattern.length - 1) ok = false;
        break;
      }
      const s = segments[i];
      if (s === undefined) ok = false;
      else if (/^\{.+\}$/.test(p)) {
        if (s === '') ok = false;
        else params[p.slice(1, -1)] = decodeURIComponent(s);
        score += 1;
      } else if (p === s) score += 2;
      else ok = false;
    }
    const greedyRoute = /\{.+\+\}$/.test(route.path);
    if (ok && !greedyRoute && pattern.length !== segments.length) ok = false;
    if (!ok) continue;
    const methodScore = route.method === 'ANY' ? 0 : 1;
    candidates.push({ match: Object.keys(params).length ? { route, pathParameters: params } : { route }, score: score * 2 + methodScore - (greedyRoute ? 1000 : 0) + 2000 });
  }
  candidates.sort((a, b) => b.score - a.score);
  return candidates[0]?.match;
}
