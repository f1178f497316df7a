/**
 * A dependency-free SVG line chart: a few series over a shared x axis (optionally log2), for
 * the DAX advisor's miss-ratio curves and the benchmark reports.
 */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog2?: boolean;
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  yMin?: number;
  yMax?: number;
}

const W = 720;
const H = 420;
const M = { left: 70, right: 150, top: 40, bottom: 56 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

export function lineChart(series: Series[], o: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const tx = (x: number): number => (o.xLog2 ? Math.log2(Math.max(x, Number.MIN_VALUE)) : x);
  const xs = all.map((p) => tx(p.x));
  const ys = all.map((p) => p.y);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = o.yMin ?? Math.min(0, ...ys);
  const y1 = o.yMax ?? Math.max(...ys, y0 + 1e-9);
  const px = (x: number): number => M.left + ((tx(x) - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const fx = o.formatX ?? ((x: number) => String(x));
  const fy = o.formatY ?? ((y: number) => y.toPrecision(3));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
  ];
  // Axes, ticks and grid.
  const xTicks = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  for (const x of xTicks) {
    out.push(`<line x1="${px(x)}" y1="${M.top}" x2="${px(x)}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(fx(x))}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const y = y0 + ((y1 - y0) * i) / 5;
    out.push(`<line x1="${M.left}" y1="${py(y)}" x2="${W - M.right}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${esc(fy(y))}</text>`);
  }
  out.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text x="16" y="${(M.top + H - M.bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(M.top + H - M.bottom) / 2})">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = M.top + 18 * i + 8;
    out.push(`<rect x="${W - M.right + 14}" y="${ly - 8}" width="14" height="4" fill="${color}"/>`);
    out.push(`<text x="${W - M.right + 34}" y="${ly - 2}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
