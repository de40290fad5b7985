import type { MetricsTable } from './metrics-table.js';

/** The one-page report: run context, verdicts, the metrics table, sample grids, curves and sheets, images inlined. */
export interface ReportSection {
  title: string;
  images: Array<{ caption: string; png: Uint8Array }>;
  /** One image at a time under a range slider (per-epoch frames); without scripts the last one shows. */
  slider?: boolean;
}

export interface Report {
  title: string;
  generated: string;
  /** Label and value rows at the top: data, params that matter, backend. */
  context: Array<[string, string]>;
  verdicts: Array<{ name: string; text: string }>;
  table: MetricsTable;
  notes: string[];
  sections: ReportSection[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const img = (im: { caption: string; png: Uint8Array }, hidden = false) =>
  `<figure${hidden ? ' hidden' : ''}><img alt="${esc(im.caption)}" title="click to zoom" src="data:image/png;base64,${Buffer.from(im.png).toString('base64')}"><figcaption>${esc(im.caption)}</figcaption></figure>`;

function section(s: ReportSection): string {
  if (!s.slider || s.images.length < 2) return `<section><h2>${esc(s.title)}</h2><div class="figs">${s.images.map((im) => img(im)).join('')}</div></section>`;
  const last = s.images.length - 1;
  return (
    `<section class="slider"><h2>${esc(s.title)}</h2><input type="range" min="0" max="${last}" value="${last}" aria-label="${esc(s.title)}">` +
    `<div class="figs">${s.images.map((im, i) => img(im, i !== last)).join('')}</div></section>`
  );
}

/**
 * The facts of the last pipe run (commit, dates, stage durations) come from
 * run.js beside the report, which pipe run writes: they are not part of the
 * evaluate stage's key, so they stay out of the cached report.html itself.
 */
const RUN_FACTS = `(()=>{const R=window.pipeRun,d=document.getElementById('run');
const row=(k,v)=>{const t=document.createElement('dt'),x=document.createElement('dd');t.textContent=k;x.textContent=v;d.append(t,x);};
if(!R){row('last run','commit, date and stage durations: run.js beside this file, which pipe run writes, is missing');return;}
const when=s=>s.replace('T',' ').slice(0,19)+' UTC',dur=s=>s<60?s.toFixed(1)+' s':Math.floor(s/60)+' min '+Math.round(s%60)+' s';
row('git commit',R.git?R.git.commit.slice(0,12)+(R.git.dirty?' with uncommitted changes':''):'not a git checkout');
row('last run',when(R.started)+' to '+when(R.finished)+' ('+R.pipeline+(R.experiment?', experiment '+R.experiment:'')+')');
row('stage durations',Object.entries(R.stages).map(([s,v])=>s+' '+(v.computed?dur(v.computed.seconds)+(v.outcome==='ran'?'':' (cached, computed '+when(v.computed.at)+')'):v.outcome)).join('; '));})();`;

// Clicking an image doubles its size (pixelated) and back; a slider shows the frame it points at.
const SCRIPT = `document.querySelectorAll('img').forEach(i=>i.addEventListener('click',()=>i.classList.toggle('zoom')));
document.querySelectorAll('section.slider').forEach(s=>{const r=s.querySelector('input'),f=[...s.querySelectorAll('figure')];r.addEventListener('input',()=>f.forEach((x,i)=>x.hidden=i!==Number(r.value)));});`;

export function renderReport(r: Report): string {
  const t = r.table;
  const table =
    `<div class="table"><table><thead><tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    t.rows.map((row) => `<tr class="${row.kind}">${row.cells.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td${row.best[i] ? ' class="best"' : ''}>${esc(c)}</td>`)).join('')}</tr>`).join('') +
    '</tbody></table></div>';
  const context = `<dl class="context">${r.context.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
  const verdicts = r.verdicts.length ? `<h2>Verdict</h2><ul class="verdicts">${r.verdicts.map((v) => `<li><b>${esc(v.name)}</b>: ${esc(v.text)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(r.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
dl.context{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.9rem} dt{font-weight:600} dd{margin:0;overflow-wrap:anywhere}
.table{overflow-x:auto;max-width:100%} table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:right;white-space:nowrap} thead th{background:#f4f4f4;text-align:center} tbody th{text-align:left}
td.best{background:#dff5e1;font-weight:600} tr.sanity,tr.copies{color:#777} tr.real{color:#555;font-style:italic}
.figs{display:flex;flex-wrap:wrap;gap:1rem} figure{margin:0} figure[hidden]{display:none} figcaption{font-size:.8rem;color:#555;text-align:center}
img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc;cursor:zoom-in} img.zoom{width:200%;max-width:none;cursor:zoom-out}
input[type=range]{width:min(100%,520px)}
ul{font-size:.9rem;color:#444}
</style></head><body>
<h1>${esc(r.title)}</h1><p class="sub">${esc(r.generated)}</p>
${context}
<dl class="context" id="run"></dl>
${verdicts}
<h2>Metrics</h2>${table}
<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${r.sections.map(section).join('\n')}
<script src="run.js"></script>
<script>${RUN_FACTS}
${SCRIPT}</script>
</body></html>
`;
}
