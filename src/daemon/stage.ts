/**
 * The hand-over between the two Node stages of `--sandbox=namespace` (docs/sandbox.md):
 *
 *   outer  node virtiofsd.js ARGS        parses ARGS, creates the listening socket, then execs
 *   super  vfs-supervisor -- node …      (same pid) clones the child into new namespaces
 *   inner  node virtiofsd.js ARGS        PID 1 of the new pid namespace: reads the stage below
 *                                        instead of parsing ARGS, enters the sandbox and serves
 *
 * The stage travels in one environment variable, the resolved configuration as JSON (the
 * listening socket as an inherited descriptor). Kept free of heavy imports: virtiofsd.ts reads
 * it before anything else is loaded.
 */
import type { DaemonConfig } from '../cli/config.js';
import type { SandboxStage } from '../sandbox/sandbox.js';

export type { SandboxStage } from '../sandbox/sandbox.js';

export const STAGE_ENV = 'VIRTIOFSD_TS_SANDBOX_STAGE';

export interface InnerStage {
  kind: 'run';
  config: DaemonConfig;
  /** Warnings of the outer stage's parse, logged by the inner stage. */
  warnings: string[];
  /** Tells runDaemon that this process is the supervisor's child in fresh namespaces. */
  sandbox: SandboxStage;
}


interface StagePayload {
  version: 1;
  config: DaemonConfig;
  warnings: string[];
}

export function encodeStage(config: DaemonConfig, warnings: readonly string[]): string {
  const payload: StagePayload = { version: 1, config, warnings: [...warnings] };
  return JSON.stringify(payload);
}

/**
 * In the inner stage: the configuration handed over (and the variable removed from the
 * environment, so that nothing this process might start sees it). Undefined otherwise.
 */
export function takeInnerStage(env: NodeJS.ProcessEnv = process.env): InnerStage | undefined {
  const text = env[STAGE_ENV];
  if (text === undefined) return undefined;
  delete env[STAGE_ENV];
  const payload = JSON.parse(text) as StagePayload;
  if (payload.version !== 1 || typeof payload.config !== 'object' || payload.config === null) {
    throw new Error(`${STAGE_ENV}: not a stage this version understands`);
  }
  return { kind: 'run', config: payload.config, warnings: payload.warnings ?? [], sandbox: { inner: true } };
}
