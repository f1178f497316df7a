#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// The `virtiofsd-ts` executable: parse the command line, set up logging, run the daemon.
// The #! line drops NODE_EXTRA_CA_CERTS: the daemon makes no TLS connection, and Node would
// parse that bundle before any JavaScript runs (50–65 ms of start-up where it is set).
//
// Exit codes: 0 = clean exit (or --help/--version/--print-capabilities); 2 = usage error (one
// line on stderr); 1 = failure to start or an unexpected error (one line on stderr); otherwise
// whatever runDaemon returns. Imports stay light: the daemon (and through it the native addon)
// is loaded only once the command line is known to be good.

import './early-signals.js'; // first: see the file
import { takeInnerStage, takeLaunchedStage } from '../daemon/stage.js';
import { writeFully } from '../daemon/write-fully.js';

// option-table.ts's PROGRAM; not imported from there: the sandbox's inner stage never loads the
// command-line parser.
const PROGRAM = 'virtiofsd-ts';

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}

interface Outcome {
  code: number;
  /** The daemon ran: exit right away, whatever handles it left open. */
  ran: boolean;
}

async function main(argv: string[]): Promise<Outcome> {
  // The sandbox's inner stage: the supervisor's child, configured by the outer stage; or the
  // launcher's child in fresh namespaces, which parses the command line itself (stage.ts).
  const inner = takeInnerStage();
  const launched = takeLaunchedStage();
  if (inner !== undefined && launched !== undefined) {
    // Each is set by one of the two ways the sandbox starts us (stage.ts), never both.
    throw new Error('internal error: started both by the launcher and by the two-stage sandbox');
  }
  const result = inner ?? (await import('./options.js')).parseCommandLine(argv);
  if (result.kind === 'exit') {
    // Straight to fds 1 and 2: process.stdout/stderr would cost ~9 ms to create.
    if (result.stdout) writeFully(1, result.stdout);
    if (result.stderr) writeFully(2, result.stderr);
    return { code: result.code, ran: false };
  }
  if (launched !== undefined && (result.config.sandbox !== 'namespace' || result.config.mount !== undefined)) {
    // launcher.c's certainly_namespace() and the parser disagree: a bug, never a wrong sandbox.
    throw new Error(`internal error: started in a namespace sandbox, but the command line selects --sandbox=${result.config.sandbox}`);
  }
  const stage = inner?.sandbox ?? launched;

  if (stage === undefined && result.config.sandbox === 'namespace') {
    // --sandbox=namespace: become the supervisor, which re-runs us in new namespaces (the
    // inner stage logs the warnings, so this stage needs no logger). Returns only by throwing.
    const { execIntoSandbox } = await import('../daemon/supervisor.js');
    await execIntoSandbox(result.config, result.warnings, argv);
  }
  const { createLogger } = await import('../daemon/logger.js');
  const logger = await createLogger(result.config);
  for (const warning of result.warnings) logger.warn(warning);

  const { runDaemon } = await import('../daemon/daemon.js');
  try {
    return { code: await runDaemon(result.config, logger, stage), ran: true };
  } catch (error) {
    // Also into the log: with --syslog, nobody may be reading stderr.
    if (result.config.syslog) logger.fatal({ err: error }, `${PROGRAM} failed: ${oneLine(error)}`);
    throw error;
  }
}

main(process.argv.slice(2)).then(
  ({ code, ran }) => {
    if (ran) process.exit(code);
    process.exitCode = code;
  },
  (error: unknown) => {
    writeFully(2, `${PROGRAM}: ${oneLine(error)}\n`);
    process.exit(1);
  },
);
