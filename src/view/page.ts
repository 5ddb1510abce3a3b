/**
 * The one HTML page of `ganpool view`: markup, style and the inlined client
 * script (client-script.ts). The server sends it as is; a static report is
 * the same page with the run's data embedded, so it needs no server.
 */
import { createHash } from 'node:crypto';
import { CLIENT_SCRIPT, PALETTE } from './client-script.js';

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --card: #fff; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; padding: 10px 20px; background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
header h1 { font-size: 17px; margin: 0; }
header .brand { color: var(--muted); font-weight: normal; }
header label { color: var(--muted); }
header .spacer { flex: 1; }
#live { color: var(--muted); font-size: 12px; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #eee; }
.badge.training { background: #e3f1e3; color: #226622; }
.badge.finished { background: #e6eef8; color: #1f4f8a; }
.badge.incomplete { background: #f8ece0; color: #8a4f1f; }
main { padding: 14px 20px 40px; max-width: 1800px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 14px; }
section.card h2 { font-size: 15px; margin: 0 0 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 8px; }
.chart-box svg { width: 100%; height: auto; display: block; }
svg .title { font-size: 13px; font-weight: 600; fill: var(--fg); }
svg .tick, svg .legend { font-size: 10.5px; fill: var(--muted); }
svg .label { font-size: 11px; fill: var(--muted); }
svg .empty { font-size: 12px; fill: var(--muted); }
svg .grid { stroke: #eceef2; }
svg .axis { stroke: #9aa1ad; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; }
#facts th { color: var(--muted); font-weight: normal; white-space: nowrap; }
pre { background: var(--bg); padding: 8px; overflow: auto; max-height: 320px; font-size: 12px; }
.grids { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.grids figure { margin: 0; }
.grids img, canvas { image-rendering: pixelated; border: 1px solid var(--line); }
.grids img { width: 360px; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 12px; }
.side-by-side img { width: 200px; }
th.sortable { cursor: pointer; user-select: none; }
figcaption, .note { color: var(--muted); font-size: 12px; }
input[type=range] { width: 260px; vertical-align: middle; }
input[type=number] { width: 110px; }
.row { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; margin: 6px 0; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
a { color: var(--accent); }
${PALETTE.map((c, i) => `.swatch.c${i} { background: ${c}; }`).join('\n')}
`;

const BODY = `
<header>
  <h1><span class="brand">ganpool view ·</span> <span id="title">loading…</span></h1>
  <span id="run-status" class="badge"></span>
  <a id="back" href="#" hidden>all runs</a>
  <span class="spacer"></span>
  <label>x axis <select id="x-axis"><option value="step">step</option><option value="time">training time</option></select></label>
  <label>smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"> <span id="smoothing-value">0.60</span></label>
  <span id="live"></span>
</header>
<main>
  <div id="compare" hidden>
    <section class="card"><h2>Runs</h2><div id="compare-table"></div><p class="note">Best FCD first; a column's title sorts by it. Tick runs to overlay them; a name opens its page.</p></section>
    <section id="compare-grids-card" class="card" hidden><h2>Latest grids, in the table's order</h2><div id="compare-grids" class="side-by-side"></div></section>
    <section class="card"><h2>Curves</h2><div id="compare-charts" class="charts"></div></section>
  </div>
  <div id="run" hidden>
    <section class="card"><h2>Curves</h2><div id="charts" class="charts"></div><p id="metrics-note" class="note"></p></section>
    <section class="card"><h2>Samples over time</h2>
      <div class="grids">
        <figure><div class="row"><input id="grid-step" type="range" min="0" max="0" value="0" data-follow="yes"> <span id="grid-step-label"></span></div>
          <img id="grid-at-step" alt="sample grid at the chosen step" hidden></figure>
        <figure><div class="row">latest grid (samples/latest.png)</div><img id="grid-latest" alt="latest sample grid" hidden></figure>
      </div>
    </section>
    <section class="card"><h2>The generator, live in the browser</h2><div id="generator"></div></section>
    <section class="card"><h2>The run</h2><div id="facts"></div></section>
  </div>
</main>
<template id="generator-template">
  <p id="gen-status" class="note"></p>
  <div class="grids">
    <figure>
      <div class="row"><label>seed <input id="gen-seed" type="number" min="0" step="1"></label>
        <span id="gen-class-row" hidden><label>class <select id="gen-class"></select></label></span>
        <button id="gen-draw" type="button">draw</button></div>
      <canvas id="gen-grid" width="1" height="1"></canvas>
      <figcaption>The grid <code>ganpool sample --seed S</code> writes for this seed (same latent noise, same layout).</figcaption>
    </figure>
    <figure>
      <div class="row"><label>seed A <input id="interp-a" type="number" min="0" step="1"></label>
        <input id="interp-t" type="range" min="0" max="100" step="1" value="0">
        <label>seed B <input id="interp-b" type="number" min="0" step="1"></label></div>
      <canvas id="interp-grid" width="1" height="1"></canvas>
      <figcaption id="interp-label"></figcaption>
    </figure>
  </div>
</template>
`;

/** The client script as the page inlines it: no `</script` inside. */
const SCRIPT = CLIENT_SCRIPT.replace(/<\/script/gi, '<\\/script');

/** The CSP source of an inline element's exact text. */
function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The Content-Security-Policy the server sends with the page: scripts only
 * from the server and the inlined client script (by hash), the one inline
 * style sheet (by hash), images from the server and data: URLs, requests
 * only to the server; no plugins, forms, base URL or framing. JavaScript
 * eval stays off; WebAssembly compilation ('wasm-unsafe-eval') is allowed
 * because TensorFlow.js probes WebAssembly features when it loads.
 */
export const PAGE_CSP = [
  "default-src 'none'", `script-src 'self' 'wasm-unsafe-eval' ${sha256(SCRIPT)}`, `style-src ${sha256(STYLE)}`, "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** The policy report.html carries in a meta element: its own inline scripts and style (by hash) and data: images; no request at all. */
function reportCsp(dataScript: string): string {
  return ["default-src 'none'", `script-src ${sha256(SCRIPT)} ${sha256(dataScript)}`, `style-src ${sha256(STYLE)}`, 'img-src data:', "base-uri 'none'", "form-action 'none'"].join('; ');
}

/** JSON for a `<script>` element: `<` escaped so no string inside can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The page. Without `report` it is the live page the server sends (it loads
 * its data from the server's API); with it, a self-contained static report
 * holding that data (see report.ts).
 */
export function pageHtml(title: string, report?: unknown): string {
  const dataScript = report === undefined ? '' : `window.GANPOOL_REPORT = ${scriptJson(report)};`;
  const data = report === undefined ? '' : `<script>${dataScript}</script>\n`;
  const csp = report === undefined ? '' : `<meta http-equiv="Content-Security-Policy" content="${reportCsp(dataScript)}">\n`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${csp}<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)} · ganpool view</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${BODY}
${data}<script>${SCRIPT}</script>
</body>
</html>
`;
}
