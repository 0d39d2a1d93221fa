/** Progress of one account deletion, so a retry resumes where a failure stopped it. */
export type DeletionStep = 'marked' | 'billing' | 'data' | 'cache' | 'profile' | 'identity' | 'done';

export interface DeletionJob {
  userId: string;
  email?: string;
  stripeCustomerId?: string;
  username: string;
  completed: DeletionStep[];
  startedAt: string;
  updatedAt: string;
  attempts: number;
  lastError?: string;
}

export interface DeletionJobs {
  get(userId: string): Promise<DeletionJob | undefined>;
  save(job: DeletionJob): Promise<void>;
}

/** Removes a user's rows that are not one key: ledger entries and API keys. */
export interface UserDataPurger {
  purge(userId: string): Promise<{ ledgerEntries: number; apiKeys: number }>;
}

/** The identity provider (Cognito). */
export interface IdentityDirectory {
  /** Deletes the user; succeeds when the user is already gone. */
  deleteUser(username: string): Promise<void>;
}
