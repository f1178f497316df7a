export interface FuzzOptions { socketPath: string; requests: number; seed: number; batch?: number; timeoutMs?: number; replay?: number[]; classes?: string[]; daemonPids?: number[]; log?: (m: string) => void }
export interface FuzzResult { ok: boolean }
export async function runFuzz(_o: FuzzOptions): Promise<FuzzResult> { return { ok: false }; }
export function formatFuzzReport(r: FuzzResult): string { return JSON.stringify(r) + '\n'; }
