/** The one-page report: sample grids, loss curves and the metrics table, images inlined. */
export interface ReportSection {
  title: string;
  images: Array<{ caption: string; png: Uint8Array }>;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderReport(opts: { title: string; generated: string; metricsTable: string[][]; notes: string[]; sections: ReportSection[] }): string {
  const [head, ...rows] = opts.metricsTable;
  const table =
    `<table><thead><tr>${head!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('') +
    '</tbody></table>';
  const sections = opts.sections
    .map(
      (s) =>
        `<section><h2>${esc(s.title)}</h2><div class="figs">${s.images
          .map((im) => `<figure><img alt="${esc(im.caption)}" src="data:image/png;base64,${Buffer.from(im.png).toString('base64')}"><figcaption>${esc(im.caption)}</figcaption></figure>`)
          .join('')}</div></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:.85rem;margin:1rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:right;white-space:nowrap} thead th{background:#f4f4f4;text-align:center} tbody th{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:1rem} figure{margin:0} figcaption{font-size:.8rem;color:#555;text-align:center}
img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc}
ul{font-size:.9rem;color:#444}
</style></head><body>
<h1>${esc(opts.title)}</h1><p class="sub">${esc(opts.generated)}</p>
<h2>Metrics</h2>${table}
<ul>${opts.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${sections}
</body></html>
`;
}
