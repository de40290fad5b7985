import { basename, dirname } from 'node:path';

export type Label = 'genuine' | 'forged' | 'unknown';

export interface FileLabel {
  writer: string;
  label: Label;
  /** Which naming scheme matched, for the log. */
  scheme: string;
}

/** File-name conventions of the public signature sets, mapped to writer and genuine/forged. */
const SCHEMES: Array<{ scheme: string; re: RegExp; label: (m: RegExpExecArray) => Label; writer: (m: RegExpExecArray) => string }> = [
  { scheme: 'CEDAR', re: /^(original|forgeries)_(\d+)_(\d+)\./i, label: (m) => (m[1]!.toLowerCase() === 'original' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[2])) },
  { scheme: 'MCYT', re: /^(\d{4})(v|f)(\d{2})\./i, label: (m) => (m[2]!.toLowerCase() === 'v' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[1])) },
  { scheme: 'GPDS', re: /^(c|cf)-(\d+)-(\d+)\./i, label: (m) => (m[1]!.toLowerCase() === 'c' ? 'genuine' : 'forged'), writer: (m) => String(Number(m[2])) },
  { scheme: 'BHSig', re: /^([A-Z])-S-(\d+)-(G|F)-(\d+)\./i, label: (m) => (m[3]!.toUpperCase() === 'G' ? 'genuine' : 'forged'), writer: (m) => `${m[1]!.toUpperCase()}${Number(m[2])}` },
];

/**
 * Labels from the file name when it follows a known dataset's scheme;
 * otherwise the parent folder is the writer, and a folder named like
 * "genuine" or "forg..." anywhere on the path gives the label.
 */
export function labelFor(relPath: string): FileLabel {
  const name = basename(relPath);
  for (const s of SCHEMES) {
    const m = s.re.exec(name);
    if (m) return { writer: s.writer(m), label: s.label(m), scheme: s.scheme };
  }
  const parts = relPath.split(/[\\/]/).slice(0, -1).map((p) => p.toLowerCase());
  const label: Label = parts.some((p) => /^(genuine|original|real)/.test(p)) ? 'genuine' : parts.some((p) => /^(forg|fake|skilled)/.test(p)) ? 'forged' : 'unknown';
  const folders = relPath.split(/[\\/]/).slice(0, -1).filter((p) => !/^(genuine|original|real|forg|fake|skilled)/i.test(p));
  return { writer: folders[folders.length - 1] ?? basename(dirname(relPath)), label, scheme: 'folder' };
}
