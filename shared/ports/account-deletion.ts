/** Progress of one account deletion, so a retry or the worker resumes where the last run stopped. */
export type DeletionStep = 'marked' | 'billing' | 'data' | 'cache' | 'profile' | 'identity' | 'done';
export const DELETION_STEPS: readonly DeletionStep[] = ['marked', 'billing', 'data', 'cache', 'profile', 'identity', 'done'];

/** Who asked: the user (DELETE /me/account) or the reconcile sweep (Cognito user already gone). */
export type DeletionSource = 'api' | 'sweep';

export interface DeletionJob {
  userId: string;
  /** Only while the job runs (the cache step needs it); removed when the job is done. */
  email?: string;
  /** Only while the job runs; removed when the job is done. */
  stripeCustomerId?: string;
  username: string;
  source: DeletionSource;
  completed: DeletionStep[];
  /** Rows the data step has deleted so far (its checkpoint: the purge restarts from what is left). */
  purged: { ledgerEntries: number; apiKeys: number };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** Runs (route calls and worker invocations) that worked on the job. */
  attempts: number;
  lastError?: string;
}

/**
 * Deletion jobs with a lease: one runner at a time works on a user's job (the
 * route, the worker, the sweep), so a second call while the worker runs is
 * answered from the stored state instead of racing it.
 */
export interface DeletionJobs {
  get(userId: string): Promise<DeletionJob | undefined>;
  /** Takes the lease until `until` unless another runner holds it; returns the stored job (if any). */
  acquire(userId: string, owner: string, until: Date): Promise<{ acquired: true; job?: DeletionJob } | { acquired: false; job?: DeletionJob; leaseUntil: Date }>;
  /** Saves the job, only while `owner` still holds the lease (else DeletionLeaseLostError). */
  save(job: DeletionJob, owner: string): Promise<void>;
  /** Ends the lease (when held by `owner`). */
  release(userId: string, owner: string): Promise<void>;
}

export class DeletionLeaseLostError extends Error {
  constructor(userId: string) {
    super(`another runner took over the deletion of ${userId}`);
    this.name = 'DeletionLeaseLostError';
  }
}

/** Removes a user's rows that are not one key (ledger entries, usage counters, API keys), a batch at a time. */
export interface UserDataPurger {
  /** Deletes up to `batchSize` of the user's rows; `done` once nothing is left. */
  purgeBatch(userId: string, batchSize: number): Promise<{ ledgerEntries: number; apiKeys: number; done: boolean }>;
}

/** The identity provider (Cognito). */
export interface IdentityDirectory {
  /** Deletes the user; succeeds when the user is already gone. */
  deleteUser(username: string): Promise<void>;
  /** Whether a user with this `sub` exists now (one targeted lookup). */
  userExists(sub: string): Promise<boolean>;
}

/** A page of profiles for the reconcile sweep (not a request path: a Scan is allowed here). */
export interface ProfileSweep {
  page(cursor?: string): Promise<{ profiles: Array<{ userId: string; createdAt?: string; deletingAt?: string }>; cursor?: string }>;
}

/** What the deletion worker is asked to do. */
export type DeletionWork = { kind: 'continue-deletion'; userId: string; source?: DeletionSource } | { kind: 'reconcile-identities'; cursor?: string };

/** The queue that drives the deletion worker (SQS on AWS, an in-process queue locally). */
export interface DeletionQueue {
  send(work: DeletionWork, delaySeconds?: number): Promise<void>;
}
