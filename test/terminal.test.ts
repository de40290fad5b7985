import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import xterm from '@xterm/headless';
import { fmtSeconds } from '../src/core/reporter.js';
import { PIPE, pipe, project } from './helpers.js';

const CI = join(dirname(PIPE), '..', 'ci');
const COLS = 100;

function ciProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-tty-'));
  cpSync(join(CI, 'pipeline.yaml'), join(dir, 'pipeline.yaml'));
  return dir;
}

/** Runs pipe under a pseudo-terminal (util-linux script) of COLS columns; returns the bytes the terminal got. */
function underPty(dir: string, args: string[], env: Record<string, string> = {}): { out: string; code: number } {
  const cmd = `stty cols ${COLS} rows 30; exec ${process.execPath} ${PIPE} ${args.join(' ')}`;
  // The colour switches of the environment the tests run in (CI sets CI) are left out; each test sets its own.
  const { CI: _ci, NO_COLOR: _nc, FORCE_COLOR: _fc, NODE_DISABLE_COLORS: _ndc, ...inherited } = process.env;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...inherited, TERM: 'xterm-256color', ...env } });
  assert.ok(r.status !== null, `script did not run: ${r.error?.message ?? r.signal}`);
  return { out: r.stdout, code: r.status };
}

/** The lines a terminal shows (scrollback included) after these bytes. */
async function screen(term: InstanceType<typeof xterm.Terminal>, bytes: string): Promise<string[]> {
  await new Promise<void>((done) => term.write(bytes, done));
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)!.translateToString(true));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const isLive = (l: string) => /[█░]/.test(l) || /^stage \d+(–\d+)? of \d+ /.test(l);

describe('the terminal', () => {
  it('log lines scroll above the bars, finished bars leave one line, and the summary is the last line', async () => {
    const dir = ciProject();
    const { out, code } = underPty(dir, ['run', '-j', '1']);
    assert.equal(code, 0, out);
    const term = new xterm.Terminal({ cols: COLS, rows: 30, scrollback: 5000, allowProposedApi: true });
    // Frame by frame (log-update wraps each redraw in a synchronized update): the live region is always the bottom lines.
    let frames = 0;
    let sawBar = false;
    for (const frame of out.split('\x1b[?2026l')) {
      const lines = await screen(term, frame);
      const live = lines.map(isLive);
      const first = live.indexOf(true);
      if (first >= 0) assert.ok(live.slice(first).every(Boolean), `a plain line below the live region:\n${lines.slice(first).join('\n')}`);
      sawBar ||= lines.some((l) => /[█░]/.test(l));
      frames++;
    }
    assert.ok(frames > 10 && sawBar, `the run drew bars (${frames} frames)`);
    const lines = await screen(term, '');
    assert.match(lines.at(-1)!, /^8 ran, 0 from cache in [\d.]+s$/);
    assert.ok(!lines.some(isLive), 'no bar or pipeline line is left on screen');
    for (const stage of ['ingest', 'resize', 'augment', 'train-vae', 'train-gan', 'features', 'sample', 'evaluate']) {
      assert.equal(lines.filter((l) => new RegExp(`^\\[${stage}\\] done in [\\d.]+s$`).test(l)).length, 1, `one clean end line for ${stage}:\n${lines.join('\n')}`);
    }
    assert.equal(lines.filter((l) => /^\[train-vae\] train 4\/4 in [\d.]+s/.test(l)).length, 1, 'the finished training bar left one line');
    // Every line is one whole message: a stage prefix at the start only, no 'eta' leftovers.
    for (const l of lines) {
      assert.doesNotMatch(l, /.\[(ingest|resize|augment|train-vae|train-gan|features|sample|evaluate)\] (running|done)/, `two messages on one line: ${l}`);
      assert.doesNotMatch(l, /eta|NULL|LLs/, l);
    }
    assert.match(out, /\x1b\[32m\[evaluate\] done in/, 'colour on a terminal');
  });

  it('NO_COLOR and CI drop colour, FORCE_COLOR forces it, --no-progress gives plain lines, -q prints nothing for a clean run', () => {
    const dir = ciProject();
    const plain = underPty(dir, ['run', '--no-progress']);
    assert.equal(plain.code, 0, plain.out);
    assert.doesNotMatch(plain.out, /\x1b\[/);
    assert.match(plain.out, /\[train-vae\] train 2\/4 \(50%\)/);
    assert.match(plain.out, /8 ran, 0 from cache in [\d.]+s\r\n$/);
    const forced = underPty(dir, ['run', '--force', '--only', 'ingest'], { NO_COLOR: '1' });
    assert.equal(forced.code, 0, forced.out);
    assert.doesNotMatch(forced.out, /\x1b\[(3\d|2|22|39)m/);
    assert.match(forced.out, /\[ingest\] done in/);
    const ci = underPty(dir, ['run', '--force', '--only', 'ingest'], { CI: '1' });
    assert.doesNotMatch(ci.out, /\x1b\[(3\d|2|22|39)m/, 'no colour under CI');
    const ciForced = underPty(dir, ['run', '--force', '--only', 'ingest'], { CI: '1', FORCE_COLOR: '1' });
    assert.match(ciForced.out, /\x1b\[32m\[ingest\] done in/, 'FORCE_COLOR wins over CI');
    const quiet = pipe(dir, 'run', '-q');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '');
  });
});

describe('durations', () => {
  it('round once, so no minute shows 60 seconds and no seconds show 60', () => {
    assert.deepEqual([0.04, 9.94, 9.96, 59.4, 59.6, 60, 539.6, 3599.7].map(fmtSeconds), ['0.0s', '9.9s', '10s', '59s', '1m00s', '1m00s', '9m00s', '60m00s']);
  });
});

describe('command-line habits', () => {
  it('pipe run TARGET runs the target and what it needs; --verbose says what will run and why', () => {
    const dir = ciProject();
    const r = pipe(dir, 'run', 'augment', '--verbose');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^3 stages to run:\n {2}ingest: never run\n {2}resize: upstream 'ingest' is stale; never run\n {2}augment: upstream 'resize' is stale; never run\n/);
    assert.match(r.stdout, /3 ran, 0 from cache/);
    assert.doesNotMatch(r.stdout, /\[train-vae\]/);
    const again = pipe(dir, 'run', '--verbose', '-S', 'resize.size=16', 'resize');
    assert.match(again.stdout, /^1 stage to run:\n {2}resize: param size changed: 32 -> 16 \(last run took [\d.]+s\)\n/);
    const bad = pipe(dir, 'run', 'agument');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'agument'.*did you mean 'augment'/);
  });

  it('pipe help CMD shows what the command does, its flags and an example; unknown commands are usage errors', () => {
    const dir = ciProject();
    const h = pipe(dir, 'help', 'cache');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /\$ pipe cache <action>\n\n {2}The cache itself\. Actions: check \[--repair\]/);
    assert.match(h.stdout, /--repair/);
    assert.match(h.stdout, /Examples:\npipe cache check/);
    assert.equal(pipe(dir, 'status', '--help').stdout, pipe(dir, 'help', 'status').stdout);
    const bad = pipe(dir, 'help', 'nope');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'nope'; commands: run, job, push, pull, status/);
    assert.equal(pipe(dir, 'completion', 'tcsh').code, 2);
  });

  it('bash completion offers commands, flags as written, and the project\'s stage names', () => {
    const dir = ciProject();
    const bin = mkdtempSync(join(tmpdir(), 'pipe-bin-'));
    symlinkSync(PIPE, join(bin, 'pipe'));
    const complete = (...words: string[]) => {
      const script = `source <(pipe completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pipe; echo "\${COMPREPLY[*]}"`;
      const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(complete('pipe', 'sw'), 'sweep');
    assert.equal(complete('pipe', 'run', 'train-'), 'train-vae train-gan');
    assert.equal(complete('pipe', 'run', '--no-'), '--no-wait --no-progress');
    assert.equal(complete('pipe', 'gc', '--k'), '--keep');
    assert.match(pipe(dir, 'completion', 'fish').stdout, /complete -c pipe -n '__fish_seen_subcommand_from run' -l force/);
    assert.match(pipe(dir, 'completion', 'zsh').stdout, /^# pipe completion for zsh.*\nautoload -U \+X bashcompinit && bashcompinit\n_pipe\(\) \{/);
  });

  it('--json on dag; a reader that closes the pipe stops pipe quietly (141, as SIGPIPE)', () => {
    const dir = ciProject();
    const dag = pipe(dir, 'dag', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(dag[1], { stage: 'resize', kind: 'resize', upstream: ['ingest'], deps: [] });
    assert.equal(dag.length, 8);
    const noisy = project({ 'pipeline.yaml': 'stages:\n  noisy:\n    cmd: seq 1 100000; echo ok > o.txt\n    outs: [o.txt]\n' });
    const r = spawnSync('bash', ['-c', `${process.execPath} ${PIPE} run 2>err.txt | head -1; echo "rc=\${PIPESTATUS[0]}"; cat err.txt`], { cwd: noisy, encoding: 'utf8' });
    assert.equal(r.stdout, '[noisy] running (never run)\nrc=141\n');
  });
});
