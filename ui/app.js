// pipe ui: the page. The model comes from /api/state; runs on this cache, started from any terminal,
// arrive as server-sent events from /api/events (their journals), so the page follows them without reloading.
const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, children = []) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...[].concat(children));
  return e;
};
const fmt = (v) => (v === undefined || v === null ? '—' : Number(Number(v).toPrecision(4)).toString());

let state;
/** Stages of runs in progress: stage -> { state, run, done, total }. */
const live = {};
/** Scalars of the stage shown in the curves panel, and its chart. */
let curve = { stage: '', rows: [], chart: undefined };
const selected = new Set();
let sort = { key: '', dir: 1 };

async function load() {
  state = await (await fetch('/api/state')).json();
  $('#file').textContent = state.file;
  renderDag();
  renderExperiments();
  await fillCurveStages();
  fillFrames();
  renderImages();
}

function zoom(src) {
  $('#zoom img').src = src;
  $('#zoom').showModal();
}

function renderImages() {
  const figures = Object.entries(state.images).flatMap(([stage, urls]) =>
    urls.map((u) => {
      const img = el('img', { src: u, alt: u, loading: 'lazy' });
      img.onclick = () => zoom(u);
      return el('figure', { 'data-stage': stage }, [img, el('figcaption', {}, u.replace('/artifacts/', ''))]);
    }),
  );
  $('#images').replaceChildren(...(figures.length ? figures : [el('p', {}, 'no images yet')]));
}

let reloading;
function reloadSoon() {
  clearTimeout(reloading);
  reloading = setTimeout(load, 150);
}

function depths(stages) {
  const d = {};
  for (const s of stages) d[s.stage] = Math.max(0, ...s.upstream.map((u) => (d[u] ?? 0) + 1));
  return d;
}

function renderDag() {
  const d = depths(state.stages);
  const layers = [];
  for (const s of state.stages) (layers[d[s.stage]] ??= []).push(s);
  $('#dag').replaceChildren(...layers.map((l) => el('div', { class: 'layer' }, l.map(stageBox))));
}

function stageBox(s) {
  const l = live[s.stage];
  const st = l?.state ?? s.state;
  const box = el('div', { class: 'stage', 'data-stage': s.stage, 'data-state': st, title: s.reasons.join('\n') }, [
    el('div', { class: 'name' }, s.stage),
    el('div', { class: 'meta' }, `${s.kind} · ${st}${s.upstream.length ? ` · after ${s.upstream.join(', ')}` : ''}`),
  ]);
  if (l?.total) box.append(el('progress', { max: String(l.total), value: String(l.done) }));
  return box;
}

function onRun(e) {
  const ev = JSON.parse(e.data);
  if (!ev.stage) return;
  if (ev.event === 'stage-start') {
    live[ev.stage] = { state: 'running', run: ev.run };
    // The curves follow the new run from its first step.
    if (ev.stage === curve.stage) {
      curve.rows = [];
      drawCurve();
    }
  }
  else if (ev.event === 'progress') Object.assign((live[ev.stage] ??= { state: 'running', run: ev.run }), { done: ev.done, total: ev.total });
  else if (ev.event === 'stage-end') {
    if (ev.outcome === 'failed') live[ev.stage] = { state: 'failed' };
    else delete live[ev.stage];
    reloadSoon();
  } else if (ev.event === 'metric') {
    // A stage that logs for the first time becomes one the curves can show; with none shown yet, it is shown.
    const pick = $('#curve-stage');
    if (![...pick.options].some((o) => o.value === ev.stage)) pick.append(el('option', { value: ev.stage }, ev.stage));
    if (!curve.stage) {
      pick.value = curve.stage = ev.stage;
      curve.rows = [];
    }
    if (ev.stage === curve.stage) {
      curve.rows.push({ step: ev.step, values: ev.values });
      drawCurve();
    }
  } else if (ev.event === 'artifact' && ev.path.endsWith('.png')) {
    // A new progress frame or sample grid: shown as soon as it is written.
    reloadSoon();
  }
  if (ev.event !== 'metric') renderDag();
}

// Curves: one series per scalar, x the step; EMA smoothing and a log y axis on request.
function smooth(values, alpha) {
  let m;
  return values.map((v) => (v === null || v === undefined ? v : (m = m === undefined ? v : alpha * m + (1 - alpha) * v)));
}

function chartData(rows, keys, alpha) {
  return [rows.map((r) => r.step), ...keys.map((k) => smooth(rows.map((r) => r.values[k] ?? null), alpha))];
}

function plot(target, keys, data, labels = keys) {
  target.replaceChildren();
  const log = $('#log-scale').checked;
  return new uPlot(
    { width: Math.min(900, window.innerWidth - 60), height: 260, scales: { x: { time: false }, y: log ? { distr: 3 } : {} }, series: [{ label: 'step' }, ...labels.map((k, i) => ({ label: k, stroke: `hsl(${(i * 67) % 360} 60% 45%)` }))] },
    data,
    target,
  );
}

function drawCurve() {
  const keys = [...new Set(curve.rows.flatMap((r) => Object.keys(r.values)))].filter((k) => k !== 'imagesPerSecond' && k !== 'lr');
  $('#curves').dataset.points = String(curve.rows.length);
  if (!curve.rows.length) return $('#curves').replaceChildren(el('p', {}, 'no scalars logged for this stage yet'));
  curve.chart = plot($('#curves'), keys, chartData(curve.rows, keys, Number($('#smoothing').value)));
}

async function scalars(fingerprint) {
  return fingerprint ? (await fetch(`/api/scalars?fingerprint=${fingerprint}`)).json() : [];
}

async function fillCurveStages() {
  const withRows = state.stages.filter((s) => s.scalars).map((s) => s.stage);
  const pick = $('#curve-stage');
  const keep = pick.value;
  pick.replaceChildren(...withRows.map((s) => el('option', { value: s }, s)));
  if (withRows.includes(keep)) pick.value = keep;
  await showCurve();
}

async function showCurve() {
  curve.stage = $('#curve-stage').value;
  curve.rows = await scalars(state.stages.find((s) => s.stage === curve.stage)?.fingerprint);
  drawCurve();
  fillComparisonStages();
}

function fillFrames() {
  const stages = Object.keys(state.frames).filter((s) => state.frames[s].length);
  const pick = $('#frame-stage');
  const keep = pick.value;
  pick.replaceChildren(...stages.map((s) => el('option', { value: s }, s)));
  if (stages.includes(keep)) pick.value = keep;
  showFrame(true);
}

function showFrame(toLast) {
  const frames = state.frames[$('#frame-stage').value] ?? [];
  const slider = $('#frame-epoch');
  slider.max = String(Math.max(1, frames.length));
  if (toLast) slider.value = slider.max;
  const src = frames[Number(slider.value) - 1];
  $('#frame').hidden = !src;
  if (src) $('#frame').src = src;
  $('#frame-label').textContent = src ? `epoch ${slider.value} of ${frames.length}` : 'no progress frames';
}

// Experiments: sortable by any column, filtered by text, two or more compared side by side.
function columns(rows) {
  const params = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  return { params, metrics };
}

function renderExperiments() {
  const text = $('#filter').value.trim();
  const rows = state.experiments.filter((r) => !text || r.name.includes(text) || Object.entries(r.params).some(([k, v]) => `${k}=${v}`.includes(text)));
  const { params, metrics } = columns(state.experiments);
  const better = Object.assign({}, ...state.experiments.map((r) => r.better));
  if (sort.key) rows.sort((a, b) => sort.dir * (((a.metrics[sort.key] ?? a.params[sort.key] ?? '') > (b.metrics[sort.key] ?? b.params[sort.key] ?? '')) - ((a.metrics[sort.key] ?? a.params[sort.key] ?? '') < (b.metrics[sort.key] ?? b.params[sort.key] ?? ''))));
  const best = {};
  for (const m of metrics) {
    const dir = better[m] === 'lower' ? -1 : better[m] === 'higher' ? 1 : 0;
    const scored = rows.filter((r) => Number.isFinite(r.metrics[m]));
    if (dir && scored.length > 1) best[m] = scored.reduce((a, b) => (dir * (b.metrics[m] - a.metrics[m]) > 0 ? b : a)).name;
  }
  const head = el('tr', {}, [el('th', {}, ''), el('th', { 'data-key': '' }, 'name'), ...params.map((p) => el('th', { 'data-key': p }, p)), ...metrics.map((m) => el('th', { 'data-key': m }, `${m}${better[m] === 'lower' ? ' ↓' : better[m] === 'higher' ? ' ↑' : ''}`))]);
  const body = rows.map((r) => {
    const box = el('input', { type: 'checkbox', 'data-name': r.name });
    box.checked = selected.has(r.name);
    box.onchange = () => {
      box.checked ? selected.add(r.name) : selected.delete(r.name);
      $('#compare').disabled = selected.size < 2;
    };
    return el('tr', { 'data-name': r.name }, [el('td', {}, box), el('td', {}, r.name), ...params.map((p) => el('td', {}, r.params[p] ?? '—')), ...metrics.map((m) => el('td', best[m] === r.name ? { class: 'best' } : {}, fmt(r.metrics[m])))]);
  });
  $('#experiments').replaceChildren(head, ...body);
  for (const th of head.querySelectorAll('th[data-key]')) {
    th.onclick = () => {
      sort = { key: th.dataset.key, dir: sort.key === th.dataset.key ? -sort.dir : 1 };
      renderExperiments();
    };
  }
}

function fillComparisonStages() {
  const pick = $('#comparison-stage');
  if (!pick.options.length) pick.replaceChildren(...[...$('#curve-stage').options].map((o) => el('option', { value: o.value }, o.value)));
}

async function compare() {
  const rows = state.experiments.filter((r) => selected.has(r.name));
  const { params, metrics } = columns(rows);
  const head = el('tr', {}, [el('th', {}, ''), ...rows.map((r) => el('th', {}, r.name))]);
  const line = (k, get) => el('tr', { 'data-key': k }, [el('td', {}, k), ...rows.map((r) => el('td', {}, get(r)))]);
  $('#comparison-table').replaceChildren(head, ...params.map((p) => line(p, (r) => r.params[p] ?? '(pipeline.yaml)')), ...metrics.map((m) => line(m, (r) => fmt(r.metrics[m]))));
  $('#comparison').hidden = false;
  // Each experiment's sample grids, from its own runs in the cache.
  $('#comparison-samples').replaceChildren(
    ...rows.flatMap((r) =>
      r.grids.map((g) => {
        const img = el('img', { src: g.url, alt: `${r.name}: ${g.label}` });
        img.onclick = () => zoom(g.url);
        return el('figure', { 'data-name': r.name }, [img, el('figcaption', {}, `${r.name}: ${g.label}`)]);
      }),
    ),
  );
  // The same scalar of the chosen stage, one series per experiment.
  const stage = $('#comparison-stage').value;
  const all = await Promise.all(rows.map((r) => scalars(r.fingerprints[stage])));
  const key = Object.keys(all.find((x) => x.length)?.[0]?.values ?? {})[0];
  const target = $('#comparison-curves');
  target.dataset.series = String(all.filter((x) => x.length).length);
  if (!key) return target.replaceChildren(el('p', {}, `no scalars for ${stage}`));
  const steps = [...new Set(all.flatMap((x) => x.map((r) => r.step)))].sort((a, b) => a - b);
  const alpha = Number($('#smoothing').value);
  const data = [steps, ...all.map((x) => smooth(steps.map((s) => x.find((r) => r.step === s)?.values[key] ?? null), alpha))];
  plot(target, rows.map((r) => r.name), data, rows.map((r) => `${r.name}: ${key}`));
}

$('#curve-stage').onchange = showCurve;
$('#smoothing').oninput = drawCurve;
$('#log-scale').onchange = drawCurve;
$('#frame-stage').onchange = () => showFrame(true);
$('#frame-epoch').oninput = () => showFrame(false);
$('#frame').onclick = () => zoom($('#frame').src);
$('#filter').oninput = renderExperiments;
$('#compare').onclick = compare;
$('#comparison-stage').onchange = compare;

const events = new EventSource('/api/events');
events.onopen = () => {
  $('#live').dataset.connected = 'true';
  $('#live').textContent = 'live';
};
events.onerror = () => {
  $('#live').dataset.connected = 'false';
  $('#live').textContent = 'offline';
};
events.addEventListener('run', onRun);
// A run that ended (or was killed) leaves nothing running behind it.
events.addEventListener('ended', (e) => {
  const { run } = JSON.parse(e.data);
  for (const [stage, l] of Object.entries(live)) if (l.run === run && l.state === 'running') delete live[stage];
  renderDag();
  reloadSoon();
});
load();
