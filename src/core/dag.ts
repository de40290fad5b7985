import { closestMatch } from 'leven';
import type { Pipeline } from './config.js';
import { ConfigError } from './errors.js';

/** Stage order and the selections the CLI offers (--only, --until, --from). */
export class Dag {
  readonly order: string[];
  private readonly children = new Map<string, string[]>();

  constructor(private readonly pipeline: Pipeline) {
    for (const name of pipeline.stages.keys()) this.children.set(name, []);
    for (const s of pipeline.stages.values()) for (const up of s.after) this.children.get(up)!.push(s.name);
    this.order = this.topoSort();
  }

  parents(name: string): string[] {
    return this.pipeline.stages.get(name)!.after;
  }

  childrenOf(name: string): string[] {
    return this.children.get(name)!;
  }

  private topoSort(): string[] {
    const state = new Map<string, 'visiting' | 'done'>();
    const order: string[] = [];
    const visit = (name: string, trail: string[]) => {
      const st = state.get(name);
      if (st === 'done') return;
      if (st === 'visiting') {
        const cycle = [...trail.slice(trail.indexOf(name)), name];
        throw new ConfigError(`${this.pipeline.file}: dependency cycle: ${cycle.join(' -> ')}`);
      }
      state.set(name, 'visiting');
      for (const up of this.parents(name)) visit(up, [...trail, name]);
      state.set(name, 'done');
      order.push(name);
    };
    for (const name of this.pipeline.stages.keys()) visit(name, []);
    return order;
  }

  /** Validates stage names given on the command line. */
  names(list: string[], flag: string): string[] {
    const known = [...this.pipeline.stages.keys()];
    for (const n of list) {
      if (!this.pipeline.stages.has(n)) {
        const guess = closestMatch(n, known);
        throw new ConfigError(`${flag}: unknown stage '${n}'${guess ? ` (did you mean '${guess}'?)` : ''}; stages: ${known.join(', ')}`);
      }
    }
    return list;
  }

  ancestors(names: string[]): Set<string> {
    return this.walk(names, (n) => this.parents(n));
  }

  descendants(names: string[]): Set<string> {
    return this.walk(names, (n) => this.childrenOf(n));
  }

  private walk(start: string[], next: (n: string) => string[]): Set<string> {
    const seen = new Set<string>(start);
    const stack = [...start];
    while (stack.length) for (const m of next(stack.pop()!)) if (!seen.has(m)) (seen.add(m), stack.push(m));
    return seen;
  }

  /** Stages selected by the CLI flags, in run order. */
  select(opts: { only?: string[]; until?: string[]; from?: string[]; downstream?: boolean }): string[] {
    let picked: Set<string>;
    if (opts.only?.length) picked = new Set(this.names(opts.only, '--only'));
    else if (opts.until?.length) picked = this.ancestors(this.names(opts.until, '--until'));
    else if (opts.from?.length) picked = this.descendants(this.names(opts.from, '--from'));
    else picked = new Set(this.order);
    if (opts.downstream) picked = this.descendants([...picked]);
    return this.order.filter((n) => picked.has(n));
  }

  /** One object per stage, in run order: what `pipe dag --json` prints. */
  json(): Array<{ stage: string; kind: string; upstream: string[]; deps: string[] }> {
    return this.order.map((name) => {
      const s = this.pipeline.stages.get(name)!;
      return { stage: name, kind: s.kind.kind, upstream: [...s.after], deps: [...s.paths] };
    });
  }

  text(): string {
    const lines: string[] = [];
    for (const name of this.order) {
      const s = this.pipeline.stages.get(name)!;
      const deps = [...s.after, ...s.paths.map((p) => `file:${p}`)];
      lines.push(`${name} (${s.kind.kind})${deps.length ? ` <- ${deps.join(', ')}` : ''}`);
    }
    return lines.join('\n');
  }

  mermaid(): string {
    const id = (n: string) => n.replace(/[^A-Za-z0-9_]/g, '_');
    const lines = ['graph TD'];
    for (const name of this.order) {
      lines.push(`  ${id(name)}["${name}<br/><small>${this.pipeline.stages.get(name)!.kind.kind}</small>"]`);
      for (const up of this.parents(name)) lines.push(`  ${id(up)} --> ${id(name)}`);
    }
    return lines.join('\n');
  }

  dot(): string {
    const lines = ['digraph pipeline {', '  rankdir=TB;', '  node [shape=box, style=rounded];'];
    for (const name of this.order) {
      lines.push(`  "${name}" [label="${name}\\n(${this.pipeline.stages.get(name)!.kind.kind})"];`);
      for (const up of this.parents(name)) lines.push(`  "${up}" -> "${name}";`);
    }
    lines.push('}');
    return lines.join('\n');
  }
}
