import type { PolicyFactory } from '../policy.js';
import { ArcPolicy } from './arc.js';
import { ClockPolicy } from './clock.js';
import { LruPolicy } from './lru.js';

/** Every policy by its command-line name (`vufs load --policy NAME`, the advisor). */
export const POLICIES: Record<string, PolicyFactory> = {
  lru: () => new LruPolicy(),
  clock: (capacity) => new ClockPolicy(capacity),
  arc: (capacity) => new ArcPolicy(capacity),
};

export function policyFactory(name: string): PolicyFactory {
  const f = POLICIES[name];
  if (f === undefined) throw new Error(`unknown reclaim policy "${name}" (known: ${Object.keys(POLICIES).join(', ')})`);
  return f;
}
