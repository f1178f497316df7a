import { describe, expect, it } from 'vitest';
import type { LogLevel } from '../../../src/cli/config.js';
import {
  createLogger,
  createStderrDestination,
  createSyslogDestination,
  formatRecord,
  LOG_CRIT,
  LOG_DEBUG,
  LOG_ERR,
  LOG_INFO,
  LOG_WARNING,
  pinoLevel,
  syslogPriority,
  SYSLOG_FACILITY,
  type SyslogBinding,
} from '../../../src/daemon/logger.js';

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
  it('virtiofsd levels → pino levels', () => {
    expect(pinoLevel('error')).toBe('error');
    expect(pinoLevel('warn')).toBe('warn');
    expect(pinoLevel('info')).toBe('info');
    expect(pinoLevel('debug')).toBe('debug');
    expect(pinoLevel('trace')).toBe('trace');
    expect(pinoLevel('off')).toBe('silent');
  });

  it('pino levels → syslog priorities', () => {
    expect(syslogPriority(60)).toBe(LOG_CRIT);
    expect(syslogPriority(50)).toBe(LOG_ERR);
    expect(syslogPriority(40)).toBe(LOG_WARNING);
    expect(syslogPriority(30)).toBe(LOG_INFO);
    expect(syslogPriority(20)).toBe(LOG_DEBUG);
    expect(syslogPriority(10)).toBe(LOG_DEBUG);
    expect([LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG]).toEqual([2, 3, 4, 6, 7]);
  });
});

describe('stderr', () => {
  it('one compact line per record, in the Rust virtiofsd shape', async () => {
    const { logger, lines } = await stderrLogger('info');
    logger.info('Waiting for vhost-user socket connection...');
    expect(lines()).toEqual(['[2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] Waiting for vhost-user socket connection...']);
  });

  it('uses the record time when no clock is injected', async () => {
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

  it('passes through a line that is not JSON', () => {
    const capture = captureStderr();
    createStderrDestination(capture.sink, () => FIXED).write('not json\n');
    expect(capture.lines()).toEqual(['not json']);
  });
});

describe('formatRecord', () => {
  it('quotes only values that need it', () => {
    expect(formatRecord({ level: 30, time: 0, msg: 'm', a: 'plain', b: 'two words', c: 3, d: true, e: null, f: { x: 1 }, g: 'q"uote' })).toEqual([
      'm a=plain b="two words" c=3 d=true e=null f={"x":1} g="q\\"uote"',
    ]);
  });

  it('fields without a message, and a multi-line message', () => {
    expect(formatRecord({ level: 30, a: 1 })).toEqual(['a=1']);
    expect(formatRecord({ level: 30, msg: 'one\ntwo' })).toEqual(['one', 'two']);
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

  it('handles several records in one chunk and non-JSON text', () => {
    const fake = new FakeSyslog();
    const dest = createSyslogDestination(fake, 'x', 8);
    dest.write('{"level":40,"msg":"a"}\n{"level":50,"msg":"b"}\nraw text\n');
    expect(fake.opened).toEqual([['x', 8]]);
    expect(fake.records).toEqual([
      [LOG_WARNING, 'a'],
      [LOG_ERR, 'b'],
      [LOG_INFO, 'raw text'],
    ]);
  });

  it('stderr logging never loads the native addon (it is not built in unit tests)', async () => {
    const capture = captureStderr();
    const logger = await createLogger({ logLevel: 'info', syslog: false }, { stderr: capture.sink });
    logger.info('ok');
    expect(capture.lines()).toHaveLength(1);
  });
});
