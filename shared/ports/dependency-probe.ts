/** A dependency the health route pings. Defined by its user, the health handler. */
export interface DependencyProbe {
  readonly name: string;
  /** Resolves when the dependency answered within `timeoutMs`; rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
}

export type CheckStatus = 'ok' | 'down' | 'disabled';
