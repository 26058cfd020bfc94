/** Per generated line, its segments as [generated column, source index or -1]. */
export declare function decodeMappings(mappings: string): [number, number][][];
/** Bytes of `file` per source path (relative to `root`, default the working directory), from its map, largest first. */
export declare function composition(file: string, root?: string): { total: number; bytes: [string, number][] };
