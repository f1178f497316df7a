// A dependency-free grouped bar chart in SVG (the line chart is src/report/svg-line-chart.ts).
//
//   barChart({ title, yLabel, categories: ['a', 'b'], series: [{ name, values: [1, 2] }], refLine: 1 })
//
// One group of bars per category, one bar per series; a missing value (null/NaN) leaves a gap
// marked "n/a". `refLine` draws a dashed horizontal line (e.g. ratio 1.0).

const COLORS = ['#1f77b4', '#aec7e8', '#d62728', '#ff9896', '#2ca02c', '#98df8a', '#9467bd', '#ff7f0e', '#8c564b'];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function barChart({ title, yLabel, categories, series, refLine, formatY, width }) {
  const fy = formatY ?? ((y) => (Math.abs(y) >= 100 ? y.toFixed(0) : y.toPrecision(2)));
  const groupW = Math.max(60, series.length * 14 + 20);
  const M = { left: 70, right: 170, top: 40, bottom: 90 };
  const W = width ?? Math.max(520, M.left + M.right + categories.length * groupW);
  const H = 420;
  const vals = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const y1 = niceMax(Math.max(...vals, refLine ?? 0, 1e-9));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const py = (y) => H - M.bottom - (Math.max(0, y) / y1) * plotH;
  const gw = plotW / Math.max(1, categories.length);
  const bw = Math.min(24, (gw - 12) / Math.max(1, series.length));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = (y1 * i) / 5;
    out.push(`<line x1="${M.left}" y1="${py(y)}" x2="${W - M.right}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${esc(fy(y))}</text>`);
  }
  categories.forEach((c, ci) => {
    const gx = M.left + ci * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci];
      const x = gx + si * bw;
      if (!Number.isFinite(v)) {
        out.push(`<text x="${x + bw / 2}" y="${H - M.bottom - 4}" text-anchor="middle" font-size="8" fill="#999">n/a</text>`);
        return;
      }
      const color = s.color ?? COLORS[si % COLORS.length];
      out.push(`<rect x="${x.toFixed(1)}" y="${py(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(H - M.bottom - py(v)).toFixed(1)}" fill="${color}"><title>${esc(`${s.name} ${c}: ${fy(v)}`)}</title></rect>`);
    });
    const lx = M.left + ci * gw + gw / 2;
    out.push(`<text x="${lx}" y="${H - M.bottom + 14}" text-anchor="end" transform="rotate(-30 ${lx} ${H - M.bottom + 14})">${esc(c)}</text>`);
  });
  if (refLine !== undefined) {
    out.push(`<line x1="${M.left}" y1="${py(refLine)}" x2="${W - M.right}" y2="${py(refLine)}" stroke="black" stroke-dasharray="5,4"/>`);
  }
  out.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<text x="16" y="${(M.top + H - M.bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(M.top + H - M.bottom) / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, si) => {
    const ly = M.top + 18 * si + 8;
    out.push(`<rect x="${W - M.right + 14}" y="${ly - 9}" width="12" height="10" fill="${s.color ?? COLORS[si % COLORS.length]}"/>`);
    out.push(`<text x="${W - M.right + 32}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
