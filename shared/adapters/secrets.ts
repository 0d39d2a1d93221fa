import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secrets come from Secrets Manager on AWS (read once, at cold start, and kept
 * for the life of the process); the local stack passes plain values instead.
 */
export async function resolveSecret(
  source: { arn?: string; plainValue?: string; name: string },
  client: () => SecretsManagerClient,
): Promise<string> {
  if (source.arn) {
    const out = await client().send(new GetSecretValueCommand({ SecretId: source.arn }));
    if (!out.SecretString) throw new Error(`Secret ${source.name} has no string value`);
    return out.SecretString;
  }
  if (source.plainValue !== undefined) return source.plainValue;
  throw new Error(`Secret ${source.name} is not configured`);
}

/** Memoises an async initialiser; a failure is not cached so the next call retries. */
export function once<T>(init: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= init().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/**
 * A secret that can be rotated under a warm process: `current` reads once
 * and keeps the value (a failed read is retried by the next call);
 * `reread` reads the source again when the caller met a value it did not
 * expect, at most once per `minIntervalMs` (so a flood of forged requests
 * costs one read a minute), and gives undefined when it may not read yet.
 */
export class RotatingSecret {
  private held: (() => Promise<string>) | undefined;
  private lastReadAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly read: () => Promise<string>,
    private readonly now: () => number = Date.now,
    private readonly minIntervalMs = 60_000,
  ) {}

  current(): Promise<string> {
    this.held ??= once(async () => {
      this.lastReadAt = this.now();
      return this.read();
    });
    return this.held();
  }

  async reread(): Promise<string | undefined> {
    if (this.now() - this.lastReadAt < this.minIntervalMs) return undefined;
    this.lastReadAt = this.now();
    const value = await this.read();
    this.held = () => Promise.resolve(value);
    return value;
  }
}
