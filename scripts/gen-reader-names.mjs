#!/usr/bin/env node
/**
 * Writes src/ccid/reader-names.ts, the friendly names pcscd shows for the readers libccid lists, from libccid's
 * `readers/supported_readers.txt` (LudovicRousseau/CCID). The names are facts: pcscd reads them from libccid's
 * Info.plist, which libccid's `create_Info_plist.pl` builds from that file, taking every line that does not start
 * with '#' (the supported, "should work" and unsupported sections; disabled and duplicate entries are commented out)
 * and splitting it at ':' into vendor, product and name.
 *
 *   node scripts/gen-reader-names.mjs PATH/TO/supported_readers.txt COMMIT
 *
 * COMMIT is the libccid commit the file came from; it is written into the generated file's header.
 *
 * The table is written packed (issue 14: it was a quarter of the connector's worker as a Map literal), as one string
 * that src/ccid/reader-name.ts `unpackReaderNames` expands at first use:
 * - records sorted by VID:PID, separated by '|'; a record that starts a new vendor begins with '!' and its 4 hex
 *   digits; then the product's 4 hex digits, one base-36 digit k, and the rest of the name: the name is the first k
 *   characters of the previous record's name followed by that rest (k ≤ 35; names of one vendor share their start);
 * - in those rests, each character of READER_WORD_MARKS stands for a frequent piece of text (the `words` written with
 *   the table, chosen here greedily by the bytes they save). No name contains '|' or a mark (checked here).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The characters that stand for words: printable ASCII that no reader name uses, nor a hex or base-36 digit. */
export const READER_WORD_MARKS = '*:;<=>?Q[]^{}~';
const MARK = new RegExp(`[${READER_WORD_MARKS.replace(/[\]\\^[]/g, '\\$&')}]`);

/** Reads supported_readers.txt into [key, name] pairs (key = vendor << 16 | product), sorted by key. */
export function parseSupportedReaders(text, source = 'supported_readers.txt') {
  const entries = new Map();
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('#') || line.trim() === '') return;
    // create_Info_plist.pl: `($vendor, $product, $name) = split /:/` — the name ends at a third ':' if there is one.
    const [vendor, product, name] = line.split(':');
    if (!/^0x[0-9A-Fa-f]{4}$/.test(vendor ?? '') || !/^0x[0-9A-Fa-f]{4}$/.test(product ?? '') || !name) {
      throw new Error(`${source}:${i + 1}: not a "0xVVVV:0xPPPP:name" line`);
    }
    const key = ((Number.parseInt(vendor, 16) << 16) | Number.parseInt(product, 16)) >>> 0;
    // pcscd takes the first Info.plist entry that matches a device; keep the first one too.
    if (!entries.has(key)) entries.set(key, name);
  });
  return [...entries].sort(([a], [b]) => a - b);
}

const hex4 = (n) => n.toString(16).padStart(4, '0');

/** Front-codes the names ([key, name] pairs sorted by key) into records, before any word is replaced. */
function frontCode(entries) {
  let vendor = -1;
  let previous = '';
  return entries.map(([key, name]) => {
    if (!/^[\x20-\x7e]+$/.test(name) || /[|\\]/.test(name) || MARK.test(name)) {
      throw new Error(`reader ${key.toString(16)}: its name has a character the packed table reserves`);
    }
    let k = 0;
    while (k < 35 && k < name.length && name[k] === previous[k]) k++;
    const head = `${key >>> 16 === vendor ? '' : `!${hex4(key >>> 16)}`}${hex4(key & 0xffff)}${k.toString(36)}`;
    vendor = key >>> 16;
    previous = name;
    return { head, rest: name.slice(k) };
  });
}

/**
 * Packs [key, name] pairs (sorted by key) into `{ packed, words }`: `words[i]` is what READER_WORD_MARKS[i] stands
 * for. Each word is the piece of the names' rests that saves the most bytes at that point (counted in the rests with
 * the earlier words already replaced), so no word contains a mark and one pass of replacements expands them all.
 */
export function packReaderNames(entries) {
  const records = frontCode(entries);
  const words = [];
  for (const mark of READER_WORD_MARKS) {
    const count = new Map();
    for (const { rest } of records) {
      for (let i = 0; i < rest.length; i++) {
        for (let n = 2; n <= 24 && i + n <= rest.length; n++) {
          const piece = rest.slice(i, i + n);
          if (MARK.test(piece)) break;
          count.set(piece, (count.get(piece) ?? 0) + 1);
        }
      }
    }
    let best = '';
    let gain = 0;
    // The saving: (length − 1) per use, less the word's own place in the generated words list (quotes and comma).
    for (const [piece, uses] of [...count].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const g = uses * (piece.length - 1) - piece.length - 3;
      if (g > gain) [best, gain] = [piece, g];
    }
    if (best === '') break;
    for (const r of records) r.rest = r.rest.split(best).join(mark);
    words.push(best);
  }
  return { packed: records.map((r) => r.head + r.rest).join('|'), words };
}

function main([source, commit]) {
  if (!source || !/^[0-9a-f]{40}$/.test(commit ?? '')) {
    console.error('usage: node scripts/gen-reader-names.mjs PATH/TO/supported_readers.txt COMMIT(40 hex digits)');
    process.exit(2);
  }
  const entries = parseSupportedReaders(readFileSync(source, 'utf8'), source);
  const { packed, words } = packReaderNames(entries);
  // Cut into lines of at most 100 characters of table (the minifier joins the pieces back into one string).
  // Single quotes unless the text holds one (as Prettier writes them); no name holds a backslash (checked above).
  const quote = (t) => (t.includes("'") ? JSON.stringify(t) : `'${t}'`);
  const pieces = packed.match(/[^]{1,100}/g).map((p) => `  ${quote(p)}`);
  const out = `/**
 * The friendly names pcscd shows for the readers libccid lists (the \`<name>\` of \`"<name> [interface] (serial) XX YY"\`),
 * keyed by USB vendor id << 16 | product id: packed (the format is scripts/gen-reader-names.mjs's), expanded by
 * \`libccidReaderNames()\` in reader-name.ts at first use.
 *
 * GENERATED by scripts/gen-reader-names.mjs from libccid's readers/supported_readers.txt, ${entries.length} readers,
 * https://github.com/LudovicRousseau/CCID at commit ${commit}.
 * Do not edit by hand: run the script on a newer copy of that file instead. Names are facts taken as published.
 */

/** What each character of \`READER_WORD_MARKS\` stands for in the table. */
export const READER_WORDS: readonly string[] = [
${words.map((w) => `  ${quote(w)},`).join('\n')}
];

/** The characters that stand for \`READER_WORDS\` in the table, in the same order. */
export const READER_WORD_MARKS = ${quote(READER_WORD_MARKS)};

export const LIBCCID_READER_COUNT = ${entries.length};

export const LIBCCID_READER_NAMES_PACKED =
${pieces.join(' +\n')};
`;
  const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'ccid', 'reader-names.ts');
  writeFileSync(target, out);
  console.log(`wrote ${target}: ${entries.length} readers, ${packed.length} characters packed`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main(process.argv.slice(2));
