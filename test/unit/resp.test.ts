import { RedisReplyError, RespParser, RespProtocolError, encodeCommand, type RespValue } from '../../shared/adapters/redis/resp';

/** Every kind of RESP2 reply, with what it must parse to (EVAL answers with nested arrays). */
const REPLIES: Array<{ name: string; wire: string; value: RespValue }> = [
  { name: 'simple string', wire: '+OK\r\n', value: 'OK' },
  { name: 'empty simple string', wire: '+\r\n', value: '' },
  { name: 'error', wire: '-NOAUTH Authentication required.\r\n', value: new RedisReplyError('NOAUTH Authentication required.') },
  { name: 'integer', wire: ':1000\r\n', value: 1000 },
  { name: 'negative integer (PTTL of a missing key)', wire: ':-2\r\n', value: -2 },
  { name: 'bulk string', wire: '$5\r\nhello\r\n', value: 'hello' },
  { name: 'empty bulk string', wire: '$0\r\n\r\n', value: '' },
  { name: 'bulk string holding CRLF', wire: '$4\r\na\r\nb\r\n', value: 'a\r\nb' },
  { name: 'multi-byte UTF-8 bulk string', wire: '$7\r\nzoë→\r\n', value: 'zoë→' },
  { name: 'null bulk string', wire: '$-1\r\n', value: null },
  { name: 'empty array', wire: '*0\r\n', value: [] },
  { name: 'null array', wire: '*-1\r\n', value: null },
  { name: 'array of mixed types', wire: '*3\r\n:1\r\n$3\r\nfoo\r\n$-1\r\n', value: [1, 'foo', null] },
  {
    name: 'nested arrays (a Lua table of tables)',
    wire: '*3\r\n*2\r\n:0\r\n:250\r\n*0\r\n*2\r\n+x\r\n*1\r\n-ERR inner\r\n',
    value: [[0, 250], [], ['x', [new RedisReplyError('ERR inner')]]],
  },
];

const ALL_WIRE = Buffer.from(REPLIES.map((r) => r.wire).join(''), 'utf8');
const ALL_VALUES = REPLIES.map((r) => r.value);

/** Errors compare by class and message (toEqual ignores an Error's class). */
function normalise(value: RespValue): unknown {
  if (value instanceof RedisReplyError) return { replyError: value.message };
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

describe('RESP2 encoder', () => {
  it('encodes a command as an array of bulk strings, numbers as decimal text', () => {
    expect(encodeCommand(['SET', 'k', 'v', 'PX', 300]).toString()).toBe('*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n300\r\n');
  });

  it('counts bulk lengths in bytes, not characters', () => {
    // 'é' is 2 bytes and '→' 3 in UTF-8: a length in characters would desynchronise the stream.
    expect(encodeCommand(['GET', 'é→']).toString()).toBe('*2\r\n$3\r\nGET\r\n$5\r\né→\r\n');
  });

  it('round-trips through the parser (a command is also a valid reply)', () => {
    const parser = new RespParser();
    expect(parser.push(encodeCommand(['EVAL', 'return 1', 0, '']))).toEqual([['EVAL', 'return 1', '0', '']]);
  });
});

describe('RESP2 streaming parser', () => {
  it.each(REPLIES)('parses a $name', ({ wire, value }) => {
    const parser = new RespParser();
    expect(parser.push(Buffer.from(wire, 'utf8')).map(normalise)).toEqual([normalise(value)]);
    expect(parser.pending).toBe(0);
  });

  it('keeps error replies as RedisReplyError values, top-level and nested', () => {
    const [top, nested] = new RespParser().push(Buffer.from('-ERR wrong\r\n*1\r\n-ERR in\r\n'));
    expect(top).toBeInstanceOf(RedisReplyError);
    expect((nested as RespValue[])[0]).toBeInstanceOf(RedisReplyError);
  });

  it('returns every reply of a chunk that holds several, in order', () => {
    const parser = new RespParser();
    expect(parser.push(ALL_WIRE).map(normalise)).toEqual(ALL_VALUES.map(normalise));
    expect(parser.pending).toBe(0);
  });

  it('gives the same replies however the stream is split in two, at every byte', () => {
    for (let cut = 0; cut <= ALL_WIRE.length; cut += 1) {
      const parser = new RespParser();
      const replies = [...parser.push(ALL_WIRE.subarray(0, cut)), ...parser.push(ALL_WIRE.subarray(cut))];
      expect(replies.map(normalise)).toEqual(ALL_VALUES.map(normalise));
      expect(parser.pending).toBe(0);
    }
  });

  it('gives the same replies when the stream arrives one byte at a time (inside multi-byte characters too)', () => {
    const parser = new RespParser();
    const replies: RespValue[] = [];
    for (let i = 0; i < ALL_WIRE.length; i += 1) replies.push(...parser.push(ALL_WIRE.subarray(i, i + 1)));
    expect(replies.map(normalise)).toEqual(ALL_VALUES.map(normalise));
    expect(parser.pending).toBe(0);
  });

  it('returns nothing until a reply is whole, and keeps the partial bytes', () => {
    const parser = new RespParser();
    expect(parser.push(Buffer.from('*2\r\n$3\r\nfo'))).toEqual([]);
    expect(parser.pending).toBe(10);
    expect(parser.push(Buffer.from('o\r\n:7\r\n+O'))).toEqual([['foo', 7]]);
    expect(parser.push(Buffer.from('K\r\n'))).toEqual(['OK']);
  });

  it('forgets a partial reply on reset (a new connection starts a new stream)', () => {
    const parser = new RespParser();
    parser.push(Buffer.from('$10\r\nabc'));
    parser.reset();
    expect(parser.pending).toBe(0);
    expect(parser.push(Buffer.from(':1\r\n'))).toEqual([1]);
  });

  it.each([
    ['an unknown type byte', '!oops\r\n'],
    ['a line ended by LF alone', '+OK\n'],
    ['a bulk string longer than its length', '$2\r\nabc\r\n'],
    ['a non-numeric integer', ':12a\r\n'],
    ['a negative bulk length other than -1', '$-5\r\n'],
  ])('throws RespProtocolError on %s', (_, wire) => {
    expect(() => new RespParser().push(Buffer.from(wire))).toThrow(RespProtocolError);
  });
});
