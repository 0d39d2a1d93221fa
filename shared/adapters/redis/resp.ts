/**
 * RESP2, the Redis wire protocol, as pure functions: an encoder for commands
 * and a streaming parser for replies. No sockets here (resp-client.ts owns
 * those), so every framing case is unit-tested byte by byte.
 *
 * Replies map to what the adapters expect (the shapes ioredis gave them):
 * simple and bulk strings -> string (UTF-8), integers -> number, null bulk and
 * null array -> null, arrays -> arrays (nested: EVAL returns Lua tables as
 * nested arrays), error replies -> a RedisReplyError value (the client rejects
 * the command with it; inside an array it stays an element).
 */

/** An error reply from the server (`-ERR ...`, `-NOAUTH ...`): the command failed, the connection is fine. */
export class RedisReplyError extends Error {
  override readonly name = 'ReplyError';
}

export type RespValue = string | number | null | RedisReplyError | RespValue[];

/** Thrown on bytes that are not RESP2: the stream cannot be trusted after that. */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}

/** One command as a RESP array of bulk strings (the only form Redis requires clients to send). */
export function encodeCommand(args: ReadonlyArray<string | number>): Buffer {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = typeof arg === 'number' ? String(arg) : arg;
    // The length is in bytes, not UTF-16 code units: keys can hold e-mail addresses in any script.
    out += `$${Buffer.byteLength(text, 'utf8')}\r\n${text}\r\n`;
  }
  return Buffer.from(out, 'utf8');
}

const CR = 13;
const LF = 10;

/** What parsing one value from `pos` gave: the value and where the next starts, or undefined when more bytes are needed. */
type Parsed = { value: RespValue; next: number } | undefined;

/**
 * Feed it the socket's chunks in order; it returns every reply completed by
 * each chunk, in order, and keeps the unfinished tail for the next chunk.
 */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RespValue[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const replies: RespValue[] = [];
    let pos = 0;
    for (;;) {
      const parsed = this.parseValue(pos);
      if (!parsed) break;
      replies.push(parsed.value);
      pos = parsed.next;
    }
    this.buffer = pos === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
    return replies;
  }

  /** Drops a half-received reply: after a reconnect the new stream starts clean. */
  reset(): void {
    this.buffer = Buffer.alloc(0);
  }

  /** Bytes received but not yet a whole reply (tests use it to check nothing is left behind). */
  get pending(): number {
    return this.buffer.length;
  }

  private parseValue(pos: number): Parsed {
    if (pos >= this.buffer.length) return undefined;
    const type = this.buffer[pos]!;
    const line = this.readLine(pos + 1);
    if (!line) return undefined;
    switch (type) {
      case 0x2b: // '+' simple string
        return { value: line.text, next: line.next };
      case 0x2d: // '-' error
        return { value: new RedisReplyError(line.text), next: line.next };
      case 0x3a: // ':' integer
        return { value: this.toInteger(line.text), next: line.next };
      case 0x24: {
        // '$' bulk string: length, CRLF, bytes, CRLF; -1 = null
        const length = this.toInteger(line.text);
        if (length === -1) return { value: null, next: line.next };
        if (length < 0) throw new RespProtocolError(`invalid bulk length ${line.text}`);
        const end = line.next + length;
        if (end + 2 > this.buffer.length) return undefined;
        if (this.buffer[end] !== CR || this.buffer[end + 1] !== LF) throw new RespProtocolError('bulk string not terminated by CRLF');
        return { value: this.buffer.toString('utf8', line.next, end), next: end + 2 };
      }
      case 0x2a: {
        // '*' array: count, then that many values of any type; -1 = null
        const count = this.toInteger(line.text);
        if (count === -1) return { value: null, next: line.next };
        if (count < 0) throw new RespProtocolError(`invalid array length ${line.text}`);
        const items: RespValue[] = [];
        let next = line.next;
        for (let i = 0; i < count; i += 1) {
          const item = this.parseValue(next);
          if (!item) return undefined;
          items.push(item.value);
          next = item.next;
        }
        return { value: items, next };
      }
      default:
        throw new RespProtocolError(`unexpected type byte 0x${type.toString(16)}`);
    }
  }

  /** The text up to the next CRLF from `pos`, or undefined when the CRLF has not arrived yet. */
  private readLine(pos: number): { text: string; next: number } | undefined {
    const lf = this.buffer.indexOf(LF, pos);
    if (lf === -1) return undefined;
    if (lf === pos || this.buffer[lf - 1] !== CR) throw new RespProtocolError('line not terminated by CRLF');
    return { text: this.buffer.toString('utf8', pos, lf - 1), next: lf + 1 };
  }

  private toInteger(text: string): number {
    if (!/^-?\d+$/.test(text)) throw new RespProtocolError(`invalid integer ${JSON.stringify(text)}`);
    return Number(text);
  }
}
