/**
 * How this Node process was started under `--sandbox=namespace` (docs/sandbox.md). Two ways:
 *
 * Launched (one Node start; what the `virtiofsd-ts` executable does when the command line
 * certainly selects the namespace sandbox — native/launcher/launcher.c):
 *
 *   super  virtiofsd-ts ARGS             clones the child into new namespaces, supervises it
 *   node   node virtiofsd.cjs ARGS       PID 1 of the new pid namespace, LAUNCHED_ENV set: parses
 *                                        ARGS, listens, reports the socket to the supervisor
 *                                        (takeLaunchedStage), enters the sandbox and serves
 *
 * Two stages (the fallback: Node started directly, or a spelling the launcher leaves to Node):
 *
 *   outer  node virtiofsd.js ARGS        parses ARGS, creates the listening socket, then execs
 *   super  vfs-supervisor -- node …      (same pid) clones the child into new namespaces
 *   inner  node virtiofsd.js ARGS        PID 1 of the new pid namespace: reads the stage below
 *                                        instead of parsing ARGS, enters the sandbox and serves
 *
 * The two-stage hand-over travels in one environment variable, the resolved configuration as
 * JSON (the listening socket as an inherited descriptor). Kept free of heavy imports:
 * virtiofsd.ts reads it before anything else is loaded.
 */
import { closeSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DaemonConfig } from '../cli/config.js';
import type { SandboxStage } from '../sandbox/sandbox.js';

/** The sandbox stage runDaemon gets, and what it tells a launcher once it listens. */
export interface StartStage extends SandboxStage {
  /** Launched: called once the listening socket exists (its --socket-path, if any). */
  listening?(socketPath: string | undefined): void;
}

export const STAGE_ENV = 'VIRTIOFSD_TS_SANDBOX_STAGE';

/** Set by the launcher (supervise.h's LAUNCHED_ENV): the descriptor to report to. */
export const LAUNCHED_ENV = 'VIRTIOFSD_TS_LAUNCHED';

export interface InnerStage {
  kind: 'run';
  config: DaemonConfig;
  /** Warnings of the outer stage's parse, logged by the inner stage. */
  warnings: string[];
  /** Tells runDaemon that this process is the supervisor's child in fresh namespaces. */
  sandbox: StartStage;
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

/**
 * When the launcher started this process in fresh namespaces: the stage runDaemon gets (and the
 * variable removed from the environment). The command line is parsed as usual; the caller checks
 * that it selects the namespace sandbox. Undefined otherwise.
 */
export function takeLaunchedStage(env: NodeJS.ProcessEnv = process.env): StartStage | undefined {
  const text = env[LAUNCHED_ENV];
  if (text === undefined) return undefined;
  delete env[LAUNCHED_ENV];
  const fd = Number(text);
  if (!/^\d+$/.test(text) || fd < 3 || process.pid !== 1) throw new Error(`${LAUNCHED_ENV}=${text}: not set by the virtiofsd-ts launcher`);
  return {
    inner: true,
    // One line, then the descriptor is closed before the sandbox is entered: the supervisor
    // keeps its capabilities until it reads the line, and reads nothing after it.
    listening(socketPath) {
      try {
        const path = socketPath === undefined ? undefined : resolve(socketPath);
        // One line: options.ts refuses a newline in --socket-path; never trust that here.
        if (path?.includes('\n')) throw new Error('--socket-path must not contain a newline');
        writeSync(fd, path === undefined ? 'listening\n' : `listening ${path}\n`);
      } finally {
        closeSync(fd);
      }
    },
  };
}
