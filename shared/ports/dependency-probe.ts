/** A dependency the health route pings. Defined by its user, the health handler. */
export interface DependencyProbe {
  readonly name: string;
  /**
   * Opens the connection the ping will use, if the probe has one to open
   * (bounded by the client's own connect timeout): the ping's budget then
   * measures the dependency's answer, not this process's cold start.
   */
  connect?(): Promise<void>;
  /** Resolves when the dependency answered within `timeoutMs`; rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
}

