export declare const READER_WORD_MARKS: string;
export declare function parseSupportedReaders(text: string, source?: string): [number, string][];
export declare function packReaderNames(entries: readonly (readonly [number, string])[]): {
  packed: string;
  words: string[];
};
