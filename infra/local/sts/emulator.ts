/**
 * An STS emulator the real `@aws-sdk/client-sts` talks to over HTTP
 * (`new STSClient({ endpoint })`): the AWS query protocol (form-encoded POST,
 * `Action=AssumeRole&Version=2011-06-15`), STS's XML answers and error
 * documents, and STS's validation of the parameters we send. It records every
 * call (role, session name, source identity, duration, parsed session policy)
 * for tests, behind the control API every local emulator serves
 * (infra/local/http.ts): `GET /_emulator/calls?sourceIdentity=<user id>`,
 * `POST /_emulator/faults {status, code, count}`, and their `/reset`s.
 *
 * Credentials are random and worthless: `ASIA...` ids, like real session keys.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CallRecorder,
  close,
  createLocalServer,
  emulatorControl,
  FaultInjector,
  hang,
  listen,
  readBody,
  serveControl,
  sharedControlRoutes,
  type EmulatorControlApi,
} from '../http';
import type { LocalServiceFactory } from '../stack';

export const STS_EMULATOR_DEFAULT_PORT = 12112;
/** The role the local stack assumes; the account id is AWS's documentation example. */
export const LOCAL_CREDENTIALS_ROLE_ARN = 'arn:aws:iam::123456789012:role/entitlements-local-subscriber-credentials';
const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MAX_BODY_BYTES = 64 * 1024;
/** STS's limit for the packed session policy: 2048 characters once whitespace is removed. */
const MAX_PACKED_POLICY_CHARS = 2048;
const NAME_PATTERN = /^[\w+=,.@-]*$/;

export interface RecordedCall {
  at: string;
  action: string;
  roleArn?: string;
  roleSessionName?: string;
  sourceIdentity?: string;
  durationSeconds?: number;
  /** The session policy as JSON, parsed; null when none was sent. */
  policy: unknown;
  outcome: 'granted' | 'error';
  errorCode?: string;
  accessKeyId?: string;
  expiration?: string;
}

export interface StsEmulatorOptions {
  port: number;
  host?: string;
  /** The only role that may be assumed (others: AccessDenied, as a trust policy would answer). */
  roleArn?: string;
  /** The role's MaxSessionDuration (default 3600, IAM's default). */
  maxSessionDurationSeconds?: number;
}

export interface StsEmulator extends EmulatorControlApi<RecordedCall> {
  url: string;
  roleArn: string;
  stop(): Promise<void>;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

const xmlEscape = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function errorXml(err: StsError, requestId: string): string {
  return `<ErrorResponse xmlns="${XMLNS}">
  <Error>
    <Type>${err.type}</Type>
    <Code>${xmlEscape(err.code)}</Code>
    <Message>${xmlEscape(err.message)}</Message>
  </Error>
  <RequestId>${requestId}</RequestId>
</ErrorResponse>
`;
}

const validation = (message: string) => new StsError(400, 'ValidationError', message);
const constraint = (value: string, field: string, rule: string) =>
  validation(`1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: ${rule}`);

function upperAlnum(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** `2026-11-23T21:00:00Z`: STS's timestamps have no milliseconds. */
const stsTime = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

function checkName(value: string | undefined, field: string, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (value.length < 2 || value.length > 64) throw constraint(value, field, `Member must have length between 2 and 64`);
  if (!NAME_PATTERN.test(value)) throw constraint(value, field, 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
  return value;
}

export async function startStsEmulator(options: StsEmulatorOptions): Promise<StsEmulator> {
  const roleArn = options.roleArn ?? LOCAL_CREDENTIALS_ROLE_ARN;
  const maxSession = options.maxSessionDurationSeconds ?? 3600;
  const recorder = new CallRecorder<RecordedCall>((call) => call.action);
  const faults = new FaultInjector();
  const control = emulatorControl(faults, recorder);
  const controlRoutes = sharedControlRoutes(control);

  function assumeRole(params: URLSearchParams, call: RecordedCall): string {
    const arn = params.get('RoleArn') ?? undefined;
    call.roleArn = arn;
    call.roleSessionName = params.get('RoleSessionName') ?? undefined;
    call.sourceIdentity = params.get('SourceIdentity') ?? undefined;
    const rawDuration = params.get('DurationSeconds');
    const rawPolicy = params.get('Policy');

    if (!arn) throw validation(`1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null`);
    if (arn.length < 20 || arn.length > 2048) throw constraint(arn, 'roleArn', 'Member must have length between 20 and 2048');
    const sessionName = checkName(call.roleSessionName, 'roleSessionName', true)!;
    const source = checkName(call.sourceIdentity, 'sourceIdentity', false);
    if (source && source.toLowerCase().startsWith('aws:')) throw validation('SourceIdentity cannot start with the reserved prefix "aws:"');

    let duration = 3600;
    if (rawDuration !== null) {
      duration = Number(rawDuration);
      if (!Number.isInteger(duration)) throw validation(`Value '${rawDuration}' for parameter DurationSeconds is invalid`);
      call.durationSeconds = duration;
      if (duration < 900 || duration > 43200) throw constraint(rawDuration, 'durationSeconds', 'Member must have value between 900 and 43200');
    } else call.durationSeconds = duration;

    let packedSize = 0;
    if (rawPolicy !== null) {
      try {
        call.policy = JSON.parse(rawPolicy);
      } catch {
        throw new StsError(400, 'MalformedPolicyDocument', 'The policy is not in the valid JSON format.');
      }
      const packed = JSON.stringify(call.policy).length;
      packedSize = Math.ceil((packed / MAX_PACKED_POLICY_CHARS) * 100);
      if (packed > MAX_PACKED_POLICY_CHARS) throw new StsError(400, 'PackedPolicyTooLarge', `Packed policy consumes ${packedSize}% of allotted space, please use smaller policy.`);
    }
    // The trust policy: only the configured role, as only our function may assume it.
    if (arn !== roleArn) {
      throw new StsError(403, 'AccessDenied', `User: arn:aws:sts::123456789012:assumed-role/local/function is not authorized to perform: sts:AssumeRole on resource: ${arn}`);
    }
    if (duration > maxSession) throw validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');

    const account = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
    const accessKeyId = `ASIA${upperAlnum(16)}`;
    const expiration = stsTime(new Date(Date.now() + duration * 1000));
    call.accessKeyId = accessKeyId;
    call.expiration = expiration;
    const roleId = `AROA${upperAlnum(17)}`;
    return `<AssumeRoleResponse xmlns="${XMLNS}">
  <AssumeRoleResult>
${source ? `    <SourceIdentity>${xmlEscape(source)}</SourceIdentity>\n` : ''}    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account?.[1] ?? '123456789012'}:assumed-role/${xmlEscape(account?.[2] ?? 'role')}/${xmlEscape(sessionName)}</Arn>
      <AssumedRoleId>${roleId}:${xmlEscape(sessionName)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${accessKeyId}</AccessKeyId>
      <SecretAccessKey>${randomBytes(30).toString('base64')}</SecretAccessKey>
      <SessionToken>${randomBytes(200).toString('base64')}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>${packedSize}</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sts.local');
    if (url.pathname.startsWith('/_emulator/')) return serveControl(req, res, url, controlRoutes, { maxBodyBytes: MAX_BODY_BYTES, name: 'STS emulator' });
    const requestId = randomUUID();
    const call: RecordedCall = { at: new Date().toISOString(), action: '', policy: null, outcome: 'error' };
    let status = 200;
    let xml: string;
    try {
      if (req.method !== 'POST') throw new StsError(405, 'InvalidAction', 'STS query requests are POSTed');
      // Real STS refuses unsigned requests; the SDK always signs (SigV4).
      if (!/^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '')) throw new StsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) throw new StsError(413, 'RequestEntityTooLarge', 'Request body too large');
      const params = new URLSearchParams(body.toString('utf8'));
      call.action = params.get('Action') ?? '';
      if (params.get('Version') !== '2011-06-15') throw new StsError(400, 'InvalidParameterValue', 'Version must be 2011-06-15');
      if (call.action !== 'AssumeRole') throw new StsError(400, 'InvalidAction', `Could not find operation ${call.action || '(none)'} for version 2011-06-15`);
      const fault = faults.take('POST', url.pathname);
      if (fault?.status === 'hang') {
        recorder.record(call);
        return hang(server, req, res, fault.hangMs);
      }
      if (fault) {
        const code = fault.code ?? (fault.status === 429 ? 'Throttling' : 'InternalFailure');
        throw new StsError(fault.status, code, 'Injected fault', fault.status >= 500 ? 'Receiver' : 'Sender');
      }
      xml = assumeRole(params, call);
      call.outcome = 'granted';
    } catch (err) {
      const stsError = err instanceof StsError ? err : new StsError(500, 'InternalFailure', 'An internal error occurred', 'Receiver');
      status = stsError.status;
      call.errorCode = stsError.code;
      xml = errorXml(stsError, requestId);
    }
    if (call.action) recorder.record(call);
    res.writeHead(status, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(xml), 'x-amzn-RequestId': requestId });
    res.end(xml);
  }

  const server = createLocalServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await listen(server, options.port, options.host);
  return { ...control, url: `http://127.0.0.1:${port}`, roleArn, stop: () => close(server) };
}

/** Registered in LOCAL_SERVICES: points the handlers' STS client at the emulator. */
export const stsEmulatorService: LocalServiceFactory = {
  defaultPort: STS_EMULATOR_DEFAULT_PORT,
  async start({ port }) {
    const emulator = await startStsEmulator({ port });
    return {
      name: 'sts',
      url: emulator.url,
      env: { STS_ENDPOINT: emulator.url, CREDENTIALS_ROLE_ARN: emulator.roleArn },
      stop: () => emulator.stop(),
    };
  },
};
