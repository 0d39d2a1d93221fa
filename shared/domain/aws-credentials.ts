/**
 * Temporary AWS credentials for subscribers: what they may do with them, for
 * how long, and under which names. The one place the allowed actions live:
 * the CDK role's permissions and every session policy come from this list.
 */

/**
 * Amazon Transcribe streaming (speech-to-text from the app). Transcribe has no
 * resource-level permissions for these actions, so policies name them on "*".
 */
export const CREDENTIAL_ACTIONS = ['transcribe:StartStreamTranscription', 'transcribe:StartStreamTranscriptionWebSocket'] as const;

/** STS limits for a role assumed by a role (role chaining caps sessions at one hour). */
export const MIN_CREDENTIAL_DURATION_SECONDS = 900;
export const MAX_CREDENTIAL_DURATION_SECONDS = 3600;
export const DEFAULT_CREDENTIAL_DURATION_SECONDS = 900;

export interface SessionPolicy {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string[]; Resource: '*' }>;
}

/** The session policy passed to AssumeRole: the effective permissions are its intersection with the role's. */
export function sessionPolicy(actions: readonly string[]): SessionPolicy {
  return { Version: '2012-10-17', Statement: [{ Sid: 'SpeechToText', Effect: 'Allow', Action: [...actions], Resource: '*' }] };
}

/** STS's pattern for RoleSessionName and SourceIdentity characters. */
const STS_NAME_CHARS = /[^\w+=,.@-]/g;

/**
 * `u-<sanitised user id>`, at most 64 characters: STS's alphabet only, so any
 * Cognito sub (a UUID today) maps to a valid name, and CloudTrail shows which
 * user a session belongs to.
 */
export function roleSessionName(userId: string): string {
  const cleaned = userId.replace(STS_NAME_CHARS, '_').slice(0, 62);
  return `u-${cleaned || 'unknown'}`;
}

/**
 * SourceIdentity = the user id, which STS then stamps on every CloudTrail
 * event of the session (and which a chained session cannot change). The user
 * id must already fit STS's rules; a sub that does not is refused, not altered.
 */
export function sourceIdentity(userId: string): string | undefined {
  if (userId.length < 2 || userId.length > 64) return undefined;
  if (/[^\w+=,.@-]/.test(userId) || userId.toLowerCase().startsWith('aws:')) return undefined;
  return userId;
}

/** Every configured action must be one the role allows: the config can narrow the list, never widen it. */
export function validateCredentialActions(actions: readonly string[]): string[] {
  const allowed = new Set<string>(CREDENTIAL_ACTIONS);
  return actions.filter((a) => !allowed.has(a));
}
