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
