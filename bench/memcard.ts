/** The in-memory reader moved to the host (`--memcard`); the benchmarks import it from here as before. */
export { memoryCardReader } from '../src/host/readers/memcard.js';
