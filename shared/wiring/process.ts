/**
 * The composition root (shared/wiring/): every client, store, cache and
 * policy a function uses is built here, once per process, from the
 * configuration sections it needs (parsed at cold start; a missing variable
 * fails loudly). A handler module asks for what it uses and passes it to its
 * factory; a test builds the same factory from fakes or from the local stack.
 * One file per dependency, so a function loads (and bundles) only what it uses.
 */
export function perProcess<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
