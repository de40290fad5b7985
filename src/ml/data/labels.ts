import { basename, dirname } from 'node:path';

export type Label = 'genuine' | 'forged' | 'unknown';

export interface FileLabel {
  writer: string;
  label: Label;
  /** Which naming scheme matched, for the log. */
  scheme: string;
}

/**
 * File-name conventions of the public signature sets, mapped to writer and
 * genuine/forged. Writer ids are namespaced by the set (`CEDAR:1`, `MCYT:1`
 * and `GPDS:1` are three people), whichever folder the files sit in.
 */
const SCHEMES: Array<{ scheme: string; re: RegExp; label: (m: RegExpExecArray) => Label; writer: (m: RegExpExecArray) => string }> = [
  { scheme: 'CEDAR', re: /^(original|forgeries)_(\d+)_(\d+)\./i, label: (m) => (m[1]!.toLowerCase() === 'original' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[2])) },
  { scheme: 'MCYT', re: /^(\d{4})(v|f)(\d{2})\./i, label: (m) => (m[2]!.toLowerCase() === 'v' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[1])) },
  { scheme: 'GPDS', re: /^(c|cf)-(\d+)-(\d+)\./i, label: (m) => (m[1]!.toLowerCase() === 'c' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[2])) },
  { scheme: 'BHSig', re: /^([A-Z])-S-(\d+)-(G|F)-(\d+)\./i, label: (m) => (m[3]!.toUpperCase() === 'G' ? 'genuine' : 'forged'), writer: (m) => `${m[1]!.toUpperCase()}${Number(m[2])}` },
];

/** Folder names that say genuine or forged: whole names only, so a writer called Forghani or Realdo is a writer. */
const GENUINE = /^(genuine|genuines|original|originals|org|full_org|real|reference)$/i;
const FORGED = /^(forged|forgery|forgeries|forg|full_forg|fake|fakes|skilled|simulated)$/i;

/**
 * Labels from the file name when it follows a known dataset's scheme.
 * Otherwise the folders decide, nearest first: the first one named like
 * "genuine" or "forged" gives the label, the nearest other one is the
 * writer, and the top folder (the dataset, under the ingested folder)
 * namespaces it, so `setA/001` and `setB/001` are two writers. `relPath`
 * is relative to the folder being ingested.
 */
export function labelFor(relPath: string): FileLabel {
  const name = basename(relPath);
  for (const s of SCHEMES) {
    const m = s.re.exec(name);
    if (m) return { writer: `${s.scheme}:${s.writer(m)}`, label: s.label(m), scheme: s.scheme };
  }
  const folders = relPath.split(/[\\/]/).slice(0, -1).filter((p) => p && p !== '.');
  const nearest = [...folders].reverse();
  const labelFolder = nearest.find((p) => GENUINE.test(p) || FORGED.test(p));
  const label: Label = !labelFolder ? 'unknown' : GENUINE.test(labelFolder) ? 'genuine' : 'forged';
  const writerAt = nearest.findIndex((p) => !GENUINE.test(p) && !FORGED.test(p));
  if (writerAt < 0) return { writer: basename(dirname(relPath)), label, scheme: 'folder' };
  const writer = nearest[writerAt]!;
  const top = folders[0]!;
  return { writer: writerAt === nearest.length - 1 ? writer : `${top}/${writer}`, label, scheme: 'folder' };
}
