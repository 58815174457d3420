/** Stack names of the comparison app, one per run (also the run names of the JSON result). */
export const COMPARE_STACKS = {
  unbounded: 'FloodgateCompareUnbounded',
  seedSnippet: 'FloodgateCompareSeedSnippet',
  floodgate: 'FloodgateCompareFloodgate',
} as const;
export type RunName = keyof typeof COMPARE_STACKS;
export const RUN_NAMES: readonly RunName[] = ['unbounded', 'seedSnippet', 'floodgate'];
