/** Where the generated types live, relative to the client package (its own module: the drift test reads it without loading the generator). */
export const GENERATED_TYPES_FILE = 'src/generated/api.ts';
