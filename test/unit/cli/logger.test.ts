import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogLevel } from '../../../src/cli/config.js';
import {
  createLogger,
  enabledLevels,
  formatRecord,
  LOG_CRIT,
  LOG_DEBUG,
  LOG_ERR,
  LOG_INFO,
  LOG_WARNING,
  syslogPriority,
  SYSLOG_FACILITY,
  type SyslogBinding,
} from '../../../src/daemon/logger.js';
import { writeFully } from '../../../src/daemon/write-fully.js';

const FIXED = new Date('2024-07-18T12:53:55.123Z');

function captureStderr(): { sink: { write(text: string): void }; lines: () => string[] } {
  let text = '';
  return {
    sink: { write: (t: string) => void (text += t) },
    lines: () => text.split('\n').filter((l) => l !== ''),
  };
}

class FakeSyslog implements SyslogBinding {
  opened: Array<[string, number]> = [];
  records: Array<[number, string]> = [];
  syslogOpen(ident: string, facility: number): void {
    this.opened.push([ident, facility]);
  }
  syslog(priority: number, message: string): void {
    this.records.push([priority, message]);
  }
}

async function stderrLogger(logLevel: LogLevel) {
  const capture = captureStderr();
  const logger = await createLogger({ logLevel, syslog: false }, { stderr: capture.sink, now: () => FIXED });
  return { logger, lines: capture.lines };
}

describe('level mapping', () => {
  it('virtiofsd levels → the record levels they show', () => {
    expect(enabledLevels('error')).toEqual(['error', 'fatal']);
    expect(enabledLevels('warn')).toEqual(['warn', 'error', 'fatal']);
    expect(enabledLevels('info')).toEqual(['info', 'warn', 'error', 'fatal']);
    expect(enabledLevels('debug')).toEqual(['debug', 'info', 'warn', 'error', 'fatal']);
    expect(enabledLevels('trace')).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
    expect(enabledLevels('off')).toEqual([]);
  });

  it('isLevelEnabled follows the level; unknown names are never enabled', async () => {
    const logger = await createLogger({ logLevel: 'info', syslog: false }, { stderr: { write: () => {} } });
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => logger.isLevelEnabled(l))).toEqual([false, false, true, true, true, true]);
    expect(logger.isLevelEnabled('silent')).toBe(false);
    expect(logger.isLevelEnabled('off')).toBe(false);
    const off = await createLogger({ logLevel: 'off', syslog: false }, { stderr: { write: () => {} } });
    expect(off.isLevelEnabled('fatal')).toBe(false);
  });

  it('record levels → syslog priorities', () => {
    expect(syslogPriority('fatal')).toBe(LOG_CRIT);
    expect(syslogPriority('error')).toBe(LOG_ERR);
    expect(syslogPriority('warn')).toBe(LOG_WARNING);
    expect(syslogPriority('info')).toBe(LOG_INFO);
    expect(syslogPriority('debug')).toBe(LOG_DEBUG);
    expect(syslogPriority('trace')).toBe(LOG_DEBUG);
    expect([LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG]).toEqual([2, 3, 4, 6, 7]);
  });
});

describe('stderr', () => {
  it('one compact line per record, in the Rust virtiofsd shape', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.info('Waiting for vhost-user socket connection...');
    expect(lines()).toEqual(['[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] Waiting for vhost-user socket connection...']);
  });

  it('uses the time of the call when no clock is injected', async () => {
    const capture = captureStderr();
    const logger = await createLogger({ logLevel: 'info', syslog: false }, { stderr: capture.sink });
    const before = Date.now();
    logger.warn('hello');
    const m = /^\[(\S+) WARN {2}virtiofsd-ts\] hello$/.exec(capture.lines()[0]);
    expect(m).not.toBeNull();
    expect(Math.abs(Date.parse(m![1]) - before)).toBeLessThan(5000);
  });

  it('filters by level: default info hides debug and trace', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines().map((l) => l.replace(/^\[\S+ /, '['))).toEqual([
      '[INFO  virtiofsd-ts] i',
      '[WARN  virtiofsd-ts] w',
      '[ERROR virtiofsd-ts] e',
      '[FATAL virtiofsd-ts] f',
    ]);
  });

  it.each<[LogLevel, number]>([
    ['error', 2],
    ['warn', 3],
    ['info', 4],
    ['debug', 5],
    ['trace', 6],
    ['off', 0],
  ])('--log-level %s shows %i of 6 levels', async (level, count) => {
    const { logger, lines } = await stderrLogger(level);
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines()).toHaveLength(count);
  });

  it('appends fields, child bindings, and an error with its stack', async () => {
    const { logger, lines } = await stderrLogger('debug');
    const child = logger.child({ component: 'vhost' });
    const err = new Error('bad descriptor');
    child.error({ err, queue: 1, path: '/a b' }, 'ring failed');
    const out = lines();
    expect(out[0]).toBe('[2024-07-18T12:53:55.123Z ERROR virtiofsd-ts] ring failed component=vhost queue=1 path="/a b" err="bad descriptor"');
    expect(out[1]).toBe('    Error: bad descriptor');
    expect(out[2]).toMatch(/^ {6}at /);
    expect(out.length).toBeGreaterThan(2);
  });

  it('logger.error(err) does not repeat the message', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.error(new Error('boom'));
    expect(lines()[0]).toBe('[2024-07-18T12:53:55.123Z ERROR virtiofsd-ts] boom');
    expect(lines()[1]).toBe('    Error: boom');
  });

  it('writes each record in one write call', async () => {
    const writes: string[] = [];
    const logger = await createLogger({ logLevel: 'info', syslog: false }, { stderr: { write: (t) => void writes.push(t) }, now: () => FIXED });
    logger.error(new Error('x'), 'first');
    logger.info('second');
    expect(writes).toHaveLength(2);
    expect(writes[0].split('\n').length).toBeGreaterThan(2);
    expect(writes[1]).toBe('[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] second\n');
  });

  it('log.error(err) with a cause shows both messages and both stacks', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.error(new Error('cannot mount /mnt', { cause: new Error('EPERM') }));
    const out = lines();
    expect(out[0]).toBe('[2024-07-18T12:53:55.123Z ERROR virtiofsd-ts] cannot mount /mnt err="cannot mount /mnt: EPERM"');
    expect(out[1]).toBe('    Error: cannot mount /mnt');
    expect(out).toContain('    caused by: Error: EPERM');
  });

  it('takes the message from an err field when none is given', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.warn({ err: new Error('gone'), fd: 7 });
    expect(lines()[0]).toBe('[2024-07-18T12:53:55.123Z WARN  virtiofsd-ts] gone fd=7');
    expect(lines()[1]).toBe('    Error: gone');
  });

  it('child loggers nest their bindings and share the level', async () => {
    const { logger, lines } = await stderrLogger('info');
    const child = logger.child({ a: 1 }).child({ b: 'two' });
    child.debug('hidden');
    child.info({ c: 3 }, 'shown');
    logger.info('parent');
    expect(lines()).toEqual([
      '[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] shown a=1 b=two c=3',
      '[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] parent',
    ]);
  });
});

describe('formatRecord', () => {
  it('quotes only values that need it', () => {
    expect(formatRecord('m', { a: 'plain', b: 'two words', c: 3, d: true, e: null, f: { x: 1 }, g: 'q"uote', h: '', i: 'a=b' })).toEqual([
      'm a=plain b="two words" c=3 d=true e=null f={"x":1} g="q\\"uote" h="" i="a=b"',
    ]);
  });

  it('fields without a message, and a multi-line message', () => {
    expect(formatRecord(undefined, { a: 1 })).toEqual(['a=1']);
    expect(formatRecord('one\ntwo')).toEqual(['one', 'two']);
  });

  it('values as JSON would write them: undefined and functions omitted, NaN as null, Dates as text', () => {
    expect(formatRecord('m', { u: undefined, fn: () => 1, n: NaN, when: FIXED, list: [1, undefined, 'x'], nested: { skip: undefined, keep: 1 } })).toEqual([
      'm n=null when="2024-07-18T12:53:55.123Z" list=[1,null,"x"] nested={"keep":1}',
    ]);
  });

  it('a BigInt field, alone or nested, is written as its digits', async () => {
    expect(formatRecord('m', { big: 18446744073709551615n, inside: { offset: 1n << 40n, list: [2n] } })).toEqual([
      'm big=18446744073709551615 inside={"offset":1099511627776,"list":[2]}',
    ]);
    const { logger, lines } = await stderrLogger('info');
    logger.info({ unique: 0x1234n }, 'lookup');
    expect(lines()).toEqual(['[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] lookup unique=4660']);
  });

  it('never throws on values JSON cannot encode', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    const shared = { x: 1 };
    const throwing = {
      toJSON(): never {
        throw new Error('no');
      },
    };
    expect(formatRecord('m', { cycle, pair: [shared, shared], throwing, sym: Symbol('s') })).toEqual([
      'm cycle={"name":"loop","self":"[Circular]"} pair=[{"x":1},{"x":1}] throwing=[object Object] sym=Symbol(s)',
    ]);
  });

  it('an err that is not an Error is shown as a field', () => {
    expect(formatRecord('m', { err: 'EIO' })).toEqual(['m err=EIO']);
    expect(formatRecord('m', { err: { code: 'EIO' } })).toEqual(['m err={"code":"EIO"}']);
    expect(formatRecord('m', { err: null })).toEqual(['m']);
  });
});

describe('syslog', () => {
  it('opens syslog once with our ident and LOG_DAEMON', async () => {
    const fake = new FakeSyslog();
    await createLogger({ logLevel: 'info', syslog: true }, { syslog: fake });
    expect(fake.opened).toEqual([['virtiofsd-ts', SYSLOG_FACILITY]]);
    expect(SYSLOG_FACILITY).toBe(24);
  });

  it('one record per line at the matching priority, without time or level text', async () => {
    const fake = new FakeSyslog();
    const logger = await createLogger({ logLevel: 'trace', syslog: true }, { syslog: fake });
    logger.trace('t');
    logger.debug('d');
    logger.info({ fd: 3 }, 'i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(fake.records).toEqual([
      [LOG_DEBUG, 't'],
      [LOG_DEBUG, 'd'],
      [LOG_INFO, 'i fd=3'],
      [LOG_WARNING, 'w'],
      [LOG_ERR, 'e'],
      [LOG_CRIT, 'f'],
    ]);
  });

  it('an error stack becomes several records, none with a newline', async () => {
    const fake = new FakeSyslog();
    const logger = await createLogger({ logLevel: 'info', syslog: true }, { syslog: fake });
    logger.error({ err: new Error('disk on fire') }, 'write failed');
    expect(fake.records.length).toBeGreaterThan(2);
    expect(fake.records[0]).toEqual([LOG_ERR, 'write failed err="disk on fire"']);
    expect(fake.records[1]).toEqual([LOG_ERR, '    Error: disk on fire']);
    for (const [priority, message] of fake.records) {
      expect(priority).toBe(LOG_ERR);
      expect(message).not.toContain('\n');
    }
  });

  it('respects the level (info hides debug; off hides everything)', async () => {
    const fake = new FakeSyslog();
    const logger = await createLogger({ logLevel: 'info', syslog: true }, { syslog: fake });
    logger.debug('hidden');
    logger.info('shown');
    expect(fake.records).toEqual([[LOG_INFO, 'shown']]);

    const silent = new FakeSyslog();
    const off = await createLogger({ logLevel: 'off', syslog: true }, { syslog: silent });
    off.fatal('nothing');
    expect(silent.records).toEqual([]);
  });

  it('log.error(err) goes out as the message, then the stack', async () => {
    const fake = new FakeSyslog();
    const logger = await createLogger({ logLevel: 'info', syslog: true }, { syslog: fake });
    logger.error(new Error('disk on fire'));
    expect(fake.records[0]).toEqual([LOG_ERR, 'disk on fire']);
    expect(fake.records[1]).toEqual([LOG_ERR, '    Error: disk on fire']);
  });

  it('stderr logging never loads the native addon (it is not built in unit tests)', async () => {
    const capture = captureStderr();
    const logger = await createLogger({ logLevel: 'info', syslog: false }, { stderr: capture.sink });
    logger.info('ok');
    expect(capture.lines()).toHaveLength(1);
  });
});

describe('writeFully (what the logger uses for fd 2)', () => {
  it('writes the whole text, multi-byte characters included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-log-'));
    try {
      const fd = openSync(join(dir, 'out'), 'w');
      const text = `${'é€'.repeat(50_000)}\nend\n`;
      writeFully(fd, text);
      closeSync(fd);
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe(text);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('drops the text instead of throwing when the descriptor is unusable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-log-'));
    try {
      closeSync(openSync(join(dir, 'ro'), 'w'));
      const fd = openSync(join(dir, 'ro'), 'r'); // write(2): EBADF
      expect(() => writeFully(fd, 'lost\n')).not.toThrow();
      closeSync(fd);
      expect(readFileSync(join(dir, 'ro'), 'utf8')).toBe('');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
