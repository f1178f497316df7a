// The hand-over between the outer and inner stages of --sandbox=namespace: the configuration
// travels intact, is consumed once, and the supervisor is told what to unlink.
import { describe, expect, it } from 'vitest';
import type { DaemonConfig } from '../../../src/cli/config.js';
import { STAGE_ENV, encodeStage, takeInnerStage } from '../../../src/daemon/stage.js';
import { DAEMON_SCRIPT, innerEnvironment, supervisorArgv } from '../../../src/daemon/supervisor.js';

const config: DaemonConfig = {
  fd: 7,
  sharedDir: '/srv/share',
  cache: 'never',
  threadPoolSize: 2,
  announceSubmounts: true,
  logLevel: 'debug',
  syslog: true,
  sandbox: 'namespace',
  seccomp: 'kill',
  modcaps: '+sys_admin',
};

describe('sandbox stages', () => {
  it('the configuration survives the hand-over and is taken out of the environment', () => {
    const env: NodeJS.ProcessEnv = { [STAGE_ENV]: encodeStage(config, ['-f has no effect']), OTHER: 'x' };
    const stage = takeInnerStage(env);
    expect(stage).toEqual({ kind: 'run', config, warnings: ['-f has no effect'], sandbox: { inner: true } });
    expect(env).toEqual({ OTHER: 'x' });
    expect(takeInnerStage(env)).toBeUndefined();
    expect(() => takeInnerStage({ [STAGE_ENV]: JSON.stringify({ version: 2, config }) })).toThrow(/not a stage this version understands/);
  });

  it('the supervisor unlinks the socket it was given a path for, and runs the same node and script', () => {
    const withPath = supervisorArgv({ ...config, fd: undefined, socketPath: '/run/vfs.sock' }, ['--socket-path=/run/vfs.sock']);
    expect(withPath.slice(1, 4)).toEqual(['--unlink', '/run/vfs.sock', '--']);
    expect(withPath[0]).toMatch(/vfs-supervisor$/);
    expect(withPath).toContain(process.execPath);
    expect(withPath).toContain(DAEMON_SCRIPT);
    expect(withPath[withPath.length - 1]).toBe('--socket-path=/run/vfs.sock');
    const withFd = supervisorArgv(config, ['--fd=7']);
    expect(withFd[1]).toBe('--');
  });

  it('the inner stage gets our environment and the stage, without NODE_EXTRA_CA_CERTS (start-up time)', () => {
    const env = innerEnvironment({ PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', NODE_OPTIONS: '--x' }, '{}');
    expect(env.sort()).toEqual(['NODE_OPTIONS=--x', 'PATH=/bin', `${STAGE_ENV}={}`].sort());
  });
});
