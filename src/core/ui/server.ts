import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { ConfigError } from '../errors.js';
import { experimentRows, rowJson } from '../experiment-rows.js';
import { liveDir } from '../journal.js';
import { PKG_ROOT } from '../paths.js';
import { FileHasher } from '../filehash.js';
import { Project } from '../project.js';
import { Store } from '../store.js';
import type { Pipeline } from '../config.js';
import { explain } from '../status.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json' };
const POLL_MS = 200;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot'));

/** A file under root, or undefined for a path that leaves it. */
function inside(root: string, path: string): string | undefined {
  const full = normalize(join(root, decodeURIComponent(path)));
  return full === root || full.startsWith(root + sep) ? full : undefined;
}

/**
 * `pipe ui`: a local web app for one pipeline. It reads the project each time
 * it is asked (the DAG with each stage's state, the experiments, a run's
 * scalars) and streams the events of every run on this cache, whichever
 * process runs it, by tailing the cache's journal (cache/live/*.jsonl) and
 * sending each line as a server-sent event.
 */
export class UiServer {
  private readonly server: Server;
  private readonly clients = new Set<ServerResponse>();
  private readonly journals = new Map<string, { fd: number; offset: number; partial: string }>();
  private timer: NodeJS.Timeout | undefined;
  private store: Store | undefined;

  constructor(private readonly pipeline: Pipeline) {
    this.server = createServer((req, res) => void this.handle(req, res).catch((e: Error) => this.fail(res, 500, e.message)));
  }

  /** Listens on host:port (port 0: any free one); a host other than loopback only when allowed. */
  async listen(host: string, port: number, allowRemote: boolean): Promise<string> {
    if (!LOOPBACK.has(host) && !allowRemote) throw new ConfigError(`pipe ui --host ${host}: the app would be reachable from other machines, with no login; pass --allow-remote to mean it`);
    await new Promise<void>((ok, fail) => this.server.once('error', fail).listen(port, host, ok));
    this.timer = setInterval(() => this.tail(), POLL_MS);
    const addr = this.server.address() as { port: number };
    return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}/`;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const j of this.journals.values()) closeSync(j.fd);
    for (const c of this.clients) c.end();
    await new Promise((ok) => this.server.close(ok));
    await this.store?.close();
  }

  private fail(res: ServerResponse, code: number, msg: string): void {
    if (!res.headersSent) res.writeHead(code, { 'content-type': 'text/plain' });
    res.end(msg);
  }

  private json(res: ServerResponse, value: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value));
  }

  private file(res: ServerResponse, path: string | undefined): void {
    if (!path || !existsSync(path) || !statSync(path).isFile()) return this.fail(res, 404, 'not found');
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(path));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/') return this.file(res, join(PKG_ROOT, 'ui', 'index.html'));
    if (p === '/app.js' || p === '/app.css') return this.file(res, join(PKG_ROOT, 'ui', p.slice(1)));
    if (p === '/vendor/uplot.js') return this.file(res, join(uplotDist, 'uPlot.iife.min.js'));
    if (p === '/vendor/uplot.css') return this.file(res, join(uplotDist, 'uPlot.min.css'));
    if (p.startsWith('/artifacts/')) return this.file(res, inside(this.pipeline.artifactsDir, p.slice('/artifacts/'.length)));
    if (p === '/api/events') return this.subscribe(res);
    // One cache handle for the server's life: LMDB readers see what runs in other processes commit.
    const store = (this.store ??= new Store(this.pipeline.cacheDir));
    const fp = url.searchParams.get('fingerprint') ?? '';
    if (p === '/api/scalars') return this.json(res, store.scalarsOf(fp));
    if (p === '/api/file') {
      // An artifact of any recorded run (an experiment's sample grid), from the cache: the workspace's artifacts/ holds only the last run's.
      const key = url.searchParams.get('key') ?? '';
      const ref = store.getRun(fp)?.files[key];
      if (!ref) return this.fail(res, 404, 'no such file in that run');
      res.writeHead(200, { 'content-type': TYPES[extname(key)] ?? 'application/octet-stream' });
      return void res.end(store.getBlob(ref.hash));
    }
    if (p === '/api/state') {
      // pipe.lock and the stages' states are read afresh for each request; the cache handle is shared (and stays open).
      const hasher = new FileHasher(store, this.pipeline.dir);
      const state = this.state(await Project.open(this.pipeline, { store, hasher }));
      // The files it hashed are remembered, as after any command, so the next request does not read them again.
      hasher.flush();
      return this.json(res, state);
    }
    this.fail(res, 404, 'not found');
  }

  /** The page's model: each stage with its upstream and state, the experiments, and the training stages' progress frames. */
  private state(project: Project) {
    const stages = project.dag.json().map((s) => {
      const st = explain(project, s.stage);
      const fingerprint = project.lock.stages[s.stage]?.fingerprint;
      return { ...s, state: st.upToDate ? 'up to date' : st.cached ? 'cached' : 'stale', reasons: st.reasons, fingerprint, scalars: !!fingerprint && project.store.hasScalars(fingerprint) };
    });
    const frames = Object.fromEntries(
      stages.map((s) => {
        const dir = join(this.pipeline.artifactsDir, s.stage, 'progress');
        return [s.stage, existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.png')).sort().map((f) => `/artifacts/${s.stage}/progress/${f}`) : []];
      }),
    );
    // The images a stage's last run made (sample grids, sheets, nearest neighbours), not its frames or single samples.
    const images = Object.fromEntries(
      stages.map((s) => {
        const keys = Object.keys(project.lock.stages[s.stage]?.files ?? {}).filter((k) => k.endsWith('.png') && !/(^|\/)progress\/|\/\d+\.png$/.test(k));
        return [s.stage, keys.map((k) => `/artifacts/${k.startsWith('/') ? k.slice(1) : `${s.stage}/${k}`}`)];
      }),
    );
    // Each row's sample grids, by the run that made them: what a comparison shows side by side.
    const grids = (fps: Record<string, string>) =>
      Object.values(fps).flatMap((fp) => Object.keys(project.store.getRun(fp)?.files ?? {}).filter((k) => k.endsWith('grid.png')).map((key) => ({ label: key.replace(/^\//, ''), url: `/api/file?fingerprint=${fp}&key=${encodeURIComponent(key)}` })));
    const rows = experimentRows(project).map((r) => ({ ...rowJson(r), grids: grids(r.fingerprints) }));
    return { file: this.pipeline.file, stages, experiments: rows, frames, images };
  }

  private subscribe(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': pipe ui\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  private send(event: string, data: string): void {
    for (const c of this.clients) c.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  /**
   * New lines of every run's journal go out as `run` events, tagged with the
   * run; a journal that went away (its run ended) as `ended`, after its last
   * lines: each journal stays open here, so what was written before the file
   * was removed is still read.
   */
  private tail(): void {
    const dir = liveDir(this.pipeline.cacheDir);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : [];
    for (const f of files) {
      if (this.journals.has(f)) continue;
      try {
        this.journals.set(f, { fd: openSync(join(dir, f), 'r'), offset: 0, partial: '' });
      } catch {
        // Removed between the listing and the open: that run is over.
      }
    }
    for (const [f, j] of this.journals) {
      const size = fstatSync(j.fd).size;
      if (size > j.offset) {
        const buf = Buffer.alloc(size - j.offset);
        readSync(j.fd, buf, 0, buf.length, j.offset);
        j.offset = size;
        const lines = (j.partial + buf.toString()).split('\n');
        j.partial = lines.pop()!;
        for (const line of lines) if (line) this.send('run', `{"run":${JSON.stringify(f)},${line.slice(1)}`);
      }
      if (!files.includes(f)) {
        closeSync(j.fd);
        this.journals.delete(f);
        this.send('ended', JSON.stringify({ run: f }));
      }
    }
  }
}
