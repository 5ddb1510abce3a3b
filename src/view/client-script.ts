/**
 * The page's JavaScript (a classic script, inlined into the page by page.ts).
 * It draws the charts as hand-written SVG, shows the sample grids, and, when
 * served by `ganpool view`, polls the run for new metrics lines and grids and
 * runs the exported generator with TensorFlow.js in the browser. In a static
 * report (`window.GANPOOL_REPORT` set) it reads the embedded data instead and
 * makes no request.
 *
 * Text from run files reaches the DOM as textContent or through esc(); the
 * page runs under a Content-Security-Policy without inline handlers or
 * style attributes (page.ts), so colours are classes (c0…c9).
 *
 * Test hooks: every chart line is a `path[data-series][data-kind]` with
 * `data-points` (its finite points); the generator canvases carry
 * `data-seed`, `data-t` and a `data-draws` counter once drawn.
 */
/** The colours of the chart lines, in order; page.ts makes a class of each (a swatch cannot carry a style attribute under the page's CSP). */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var REPORT = window.GANPOOL_REPORT || null;
  var POLL_MS = 500;
  var PALETTE = ` + JSON.stringify(PALETTE) + String.raw`;
  var $ = function (id) { return document.getElementById(id); };
  var state = { runs: [], byId: {}, view: null, smoothing: 0.6, xAxis: 'step', compare: {}, sort: { key: 'fcd', dir: 1 } };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  /** A number from a run file, or NaN for anything else (a string, an object…). */
  function num(v) { return typeof v === 'number' ? v : NaN; }
  function fmt(v, digits) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return Number(v.toFixed(digits === undefined ? 3 : digits)).toString();
  }

  // ---- data access: the server's API, or the report's embedded data ----
  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return r.json();
    });
  }
  function q(id) { return '?run=' + encodeURIComponent(id); }
  var api = REPORT ? {
    runs: function () { return Promise.resolve({ root: REPORT.root, runs: REPORT.runs.map(function (r) { return { id: r.id, name: r.name }; }) }); },
    facts: function (id) { return Promise.resolve(reportRun(id).facts); },
    metrics: function (id, offset) {
      return Promise.resolve(offset > 0 ? { offset: 1, lines: [], bad: 0, reset: false, more: false } : { offset: 1, lines: reportRun(id).lines, bad: 0, reset: false, more: false });
    },
    samples: function (id) {
      var grids = reportRun(id).grids;
      return Promise.resolve({ grids: grids, latest: grids.length ? { file: grids[grids.length - 1].file, mtimeMs: 0 } : null });
    },
  } : {
    runs: function () { return getJson('/api/runs'); },
    facts: function (id) { return getJson('/api/facts' + q(id)); },
    metrics: function (id, offset) { return getJson('/api/metrics' + q(id) + '&offset=' + offset); },
    samples: function (id) { return getJson('/api/samples' + q(id)); },
  };
  function reportRun(id) { return REPORT.runs.filter(function (r) { return r.id === id; })[0]; }
  function fileUrl(run, file) {
    if (REPORT) {
      var g = reportRun(run.id).grids.filter(function (x) { return x.file === file; })[0];
      return g ? g.src : '';
    }
    var parts = (run.id ? [run.id] : []).concat(file.split('/'));
    return '/files/' + parts.map(encodeURIComponent).join('/');
  }

  // ---- one run's state: its metrics as columns ----
  function newRun(info) {
    return { id: info.id, name: info.name, facts: null, offset: 0, steps: [], evals: [], accuracy: [], time: 0, bad: 0, long: 0, samples: { grids: [], latest: null }, changed: true };
  }
  function addLines(run, lines) {
    lines.forEach(function (l) {
      if (l.eval && typeof l.eval === 'object') {
        var e = l.eval;
        run.evals.push({ step: num(l.step), time: run.time, fcd: num(e.fcd), classifierScore: num(e.classifierScore), classesCovered: num(e.classesCovered),
          agreement: e.classAgreement && typeof e.classAgreement === 'object' ? num(e.classAgreement.mean) : null });
      } else if (typeof l.heldOutAccuracy === 'number') {
        // A semi-supervised run's held-out accuracy (ganpool train --semi-supervised --eval-every K).
        run.accuracy.push({ step: num(l.step), time: run.time, accuracy: 100 * l.heldOutAccuracy });
      } else if (l.skipped) {
        run.steps.push({ step: num(l.step), time: run.time, skipped: true });
      } else if (typeof l.step === 'number') {
        var ms = num(l.ms);
        if (isFinite(ms)) run.time += ms / 1000;
        run.steps.push({ step: l.step, time: run.time, dLoss: num(l.dLoss), gLoss: num(l.gLoss), samplesPerSec: num(l.samplesPerSec),
          ms: ms, outsideMs: num(l.outsideMs), adamMs: num(l.adamMs), reloadMs: num(l.reloadMs) });
      }
    });
  }
  function resetRun(run) { run.steps = []; run.evals = []; run.accuracy = []; run.time = 0; run.offset = 0; }
  function pollMetrics(run) {
    return api.metrics(run.id, run.offset).then(function (m) {
      if (m.reset) resetRun(run);
      if (m.lines.length || m.reset) run.changed = true;
      addLines(run, m.lines);
      run.offset = m.offset;
      run.bad += m.bad;
      run.long += m.long || 0;
      if (m.more) return pollMetrics(run);
    });
  }
  function pollSamples(run) {
    return api.samples(run.id).then(function (s) {
      var before = JSON.stringify(run.samples);
      if (JSON.stringify(s) !== before) { run.samples = s; run.samplesChanged = true; }
    });
  }
  function pollFacts(run) {
    return api.facts(run.id).then(function (f) {
      if (JSON.stringify(f) !== JSON.stringify(run.facts)) { run.facts = f; run.factsChanged = true; }
    });
  }

  // ---- charts: hand-drawn SVG ----
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) { var d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= d; hi += d; }
    var raw = (hi - lo) / (count || 5), mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    var step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    var first = Math.floor(lo / step) * step, values = [];
    for (var v = first; v <= hi + step * 0.5; v += step) values.push(Number(v.toPrecision(12)));
    if (values[values.length - 1] < hi) values.push(Number((values[values.length - 1] + step).toPrecision(12)));
    return values;
  }
  function smooth(ys, a) {
    if (!(a > 0)) return ys;
    var out = [], s = 0, k = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (typeof y !== 'number' || !isFinite(y)) { out.push(NaN); continue; }
      s = a * s + (1 - a) * y; k++;
      out.push(s / (1 - Math.pow(a, k)));
    }
    return out;
  }
  /** [min, max] of vs (a loop: spreading 100k values into Math.min overflows the stack), or [lo, hi] when empty. */
  function range(vs, lo, hi) {
    if (!vs.length) return [lo, hi];
    var min = Infinity, max = -Infinity;
    for (var i = 0; i < vs.length; i++) { if (vs[i] < min) min = vs[i]; if (vs[i] > max) max = vs[i]; }
    return [min, max];
  }
  /** series: [{ name, kind, color, xs, ys, opacity, width }] */
  function drawChart(box, opts) {
    var W = 560, H = 270, L = 58, R = 24, T = 40, B = 38;
    var xs = [], ys = [];
    opts.series.forEach(function (s) {
      for (var i = 0; i < s.xs.length; i++) {
        if (typeof s.xs[i] === 'number' && isFinite(s.xs[i]) && typeof s.ys[i] === 'number' && isFinite(s.ys[i])) { xs.push(s.xs[i]); ys.push(s.ys[i]); }
      }
    });
    var parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + ' ' + H + '" class="chart" role="img" aria-label="' + esc(opts.title) + '">'];
    parts.push('<text x="' + L + '" y="17" class="title">' + esc(opts.title) + '</text>');
    if (!xs.length) {
      parts.push('<text x="' + (W / 2) + '" y="' + (H / 2) + '" text-anchor="middle" class="empty">' + esc(opts.empty || 'no data yet') + '</text>');
    }
    var xr = range(xs, 0, 1), yr = range(ys, 0, 1);
    var xt = niceTicks(xr[0], xr[1], 6), yt = niceTicks(yr[0], yr[1], 5);
    var x0 = xt[0], x1 = xt[xt.length - 1], y0 = yt[0], y1 = yt[yt.length - 1];
    var px = function (x) { return L + (x - x0) / (x1 - x0 || 1) * (W - L - R); };
    var py = function (y) { return H - B - (y - y0) / (y1 - y0 || 1) * (H - T - B); };
    if (xs.length) {
      yt.forEach(function (v) {
        parts.push('<line x1="' + L + '" x2="' + (W - R) + '" y1="' + py(v).toFixed(1) + '" y2="' + py(v).toFixed(1) + '" class="grid"/>');
        parts.push('<text x="' + (L - 5) + '" y="' + (py(v) + 4).toFixed(1) + '" text-anchor="end" class="tick">' + fmt(v, 4) + '</text>');
      });
      xt.forEach(function (v) {
        parts.push('<text x="' + px(v).toFixed(1) + '" y="' + (H - B + 15) + '" text-anchor="middle" class="tick">' + fmt(v, 4) + '</text>');
      });
    }
    parts.push('<line x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '" class="axis"/>');
    parts.push('<line x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '" class="axis"/>');
    parts.push('<text x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle" class="label">' + esc(opts.xLabel) + '</text>');
    parts.push('<text transform="translate(13 ' + ((T + H - B) / 2) + ') rotate(-90)" text-anchor="middle" class="label">' + esc(opts.yLabel) + '</text>');
    opts.series.forEach(function (s) {
      var d = [], pen = 'M', n = 0;
      for (var i = 0; i < s.xs.length; i++) {
        var x = s.xs[i], y = s.ys[i];
        if (typeof x !== 'number' || !isFinite(x) || typeof y !== 'number' || !isFinite(y)) { pen = 'M'; continue; }
        d.push(pen + px(x).toFixed(1) + ' ' + py(y).toFixed(1));
        pen = 'L'; n++;
      }
      parts.push('<path data-series="' + esc(s.name) + '" data-kind="' + (s.kind || 'raw') + '" data-points="' + n + '" d="' + (d.join('') || 'M0 0') +
        '" fill="none" stroke="' + s.color + '" stroke-width="' + (s.width || 1.5) + '" stroke-opacity="' + (s.opacity === undefined ? 1 : s.opacity) + '"/>');
      if (s.markers || n === 1) {
        for (var j = 0; j < s.xs.length; j++) {
          if (typeof s.xs[j] === 'number' && isFinite(s.xs[j]) && typeof s.ys[j] === 'number' && isFinite(s.ys[j])) parts.push('<circle cx="' + px(s.xs[j]).toFixed(1) + '" cy="' + py(s.ys[j]).toFixed(1) + '" r="2.5" fill="' + s.color + '"/>');
        }
      }
    });
    var legend = opts.series.filter(function (s) { return s.kind !== 'raw-faint'; }), lx = W - R;
    for (var k = legend.length - 1; k >= 0; k--) {
      var name = String(legend[k].name), w = 16 + name.length * 6.2;
      lx -= w;
      parts.push('<rect x="' + lx.toFixed(1) + '" y="25" width="10" height="3" fill="' + legend[k].color + '"/>');
      parts.push('<text x="' + (lx + 13).toFixed(1) + '" y="30" class="legend">' + esc(name) + '</text>');
    }
    parts.push('</svg>');
    box.innerHTML = parts.join('');
  }
  /** One metric (or several) of one or more runs: each as a faint raw line and, with smoothing, a smoothed line. */
  function lines(entries, smoothing) {
    var out = [];
    entries.forEach(function (e) {
      var faint = smoothing > 0 && e.smooth !== false;
      out.push({ name: e.name, kind: faint ? 'raw-faint' : 'raw', color: e.color, xs: e.xs, ys: e.ys, opacity: faint ? 0.25 : 1, width: faint ? 1 : 1.5, markers: e.markers });
      if (faint) out.push({ name: e.name, kind: 'smoothed', color: e.color, xs: e.xs, ys: smooth(e.ys, smoothing), width: 1.8 });
    });
    return out;
  }
  function col(rows, key) { return rows.map(function (r) { return r.skipped ? NaN : r[key]; }); }
  function xCol(rows) { return rows.map(function (r) { return state.xAxis === 'time' ? r.time : r.step; }); }
  function xLabel() { return state.xAxis === 'time' ? 'training time (s): sum of step times' : 'step'; }

  // ---- the run view ----
  function renderCharts(run) {
    var box = $('charts'), sm = state.smoothing, x = xCol(run.steps);
    box.innerHTML = '';
    var add = function (id, opts) { var d = el('div', { id: id, class: 'chart-box' }); box.appendChild(d); drawChart(d, opts); };
    add('chart-loss', { title: 'Losses', xLabel: xLabel(), yLabel: 'loss', series: lines([
      { name: 'D loss', color: PALETTE[0], xs: x, ys: col(run.steps, 'dLoss') },
      { name: 'G loss', color: PALETTE[1], xs: x, ys: col(run.steps, 'gLoss') }], sm) });
    add('chart-speed', { title: 'Throughput', xLabel: xLabel(), yLabel: 'samples/s', series: lines([
      { name: 'samples/s', color: PALETTE[2], xs: x, ys: col(run.steps, 'samplesPerSec') }], sm) });
    add('chart-outside', { title: 'Time outside the workers, per step', xLabel: xLabel(), yLabel: 'ms', series: lines([
      { name: 'outside', color: PALETTE[3], xs: x, ys: col(run.steps, 'outsideMs') },
      { name: 'averaging + Adam', color: PALETTE[4], xs: x, ys: col(run.steps, 'adamMs') },
      { name: 'weight reload', color: PALETTE[5], xs: x, ys: col(run.steps, 'reloadMs') }], sm) });
    if (run.accuracy.length) {
      add('chart-accuracy', { title: 'Held-out accuracy (semi-supervised D)', xLabel: xLabel(), yLabel: '%', series: [
        { name: 'held-out accuracy', kind: 'raw', color: PALETTE[0], xs: run.accuracy.map(function (e) { return state.xAxis === 'time' ? e.time : e.step; }),
          ys: run.accuracy.map(function (e) { return e.accuracy; }), markers: true }] });
    }
    var ex = run.evals.map(function (e) { return state.xAxis === 'time' ? e.time : e.step; });
    var none = 'no evaluations logged (train with --eval-every K)';
    if (run.accuracy.length && !run.evals.length) {
      // A semi-supervised run scores its classifier, not samples: no FCD to chart.
    } else if (!run.evals.length) {
      box.appendChild(el('div', { id: 'chart-eval-none', class: 'chart-box note', text: 'FCD, classifier score, classes covered: ' + none + '.' }));
    } else {
      add('chart-fcd', { title: 'FCD (lower is better)', xLabel: xLabel(), yLabel: 'FCD', empty: none, series: [
        { name: 'FCD', kind: 'raw', color: PALETTE[0], xs: ex, ys: run.evals.map(function (e) { return e.fcd; }), markers: true }] });
      add('chart-score', { title: 'Classifier score', xLabel: xLabel(), yLabel: 'score', empty: none, series: [
        { name: 'classifier score', kind: 'raw', color: PALETTE[1], xs: ex, ys: run.evals.map(function (e) { return e.classifierScore; }), markers: true }] });
      add('chart-classes', { title: 'Classes covered', xLabel: xLabel(), yLabel: 'classes', empty: none, series: [
        { name: 'classes covered', kind: 'raw', color: PALETTE[2], xs: ex, ys: run.evals.map(function (e) { return e.classesCovered; }), markers: true }] });
    }
    $('metrics-note').textContent = run.steps.length + ' steps logged' + (run.evals.length ? ', ' + run.evals.length + ' evaluations' : '') +
      (run.bad ? ', ' + run.bad + ' unreadable lines skipped' : '') + (run.long ? ', ' + run.long + ' lines over 1 MiB skipped' : '') + (REPORT && reportRun(run.id).note ? ' (' + reportRun(run.id).note + ')' : '');
  }

  /** v when it is a JSON object, else {} (a run file may hold anything). */
  function obj(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; }
  function factRows(f) {
    var c = obj(f.config), s = obj(f.summary), ck = obj(f.checkpoint), m = s.machine && typeof s.machine === 'object' ? s.machine : null, rows = [];
    var push = function (k, v) { if (v !== undefined && v !== null && v !== '') rows.push([k, v]); };
    push('status', f.status + (s.stoppedEarly ? ' (stopped early' + (s.stopReason ? ': ' + s.stopReason : '') + ')' : ''));
    push('model', c.model && (c.model + (c.conditional ? ', conditional (' + c.classes + ' classes)' : '') + ', loss ' + c.loss));
    push('dataset', c.dataset && (c.dataset + ' (' + c.datasetSize + ' images of ' + (Array.isArray(c.imageShape) ? c.imageShape : []).join('×') + ')'));
    push('backend', s.backend || c.backend);
    push('workers', s.workers || c.workers);
    push('batch size', c.batchSize);
    push('steps', (s.steps !== undefined ? s.steps : ck.step !== undefined ? ck.step : '?') + ' of ' + c.steps);
    push('learning rates', c.lrG !== undefined ? 'G ' + c.lrG + ', D ' + c.lrD + ' (Adam β1 ' + c.beta1 + ', β2 ' + c.beta2 + ')' : null);
    push('EMA of G', c.ema ? c.ema : c.ema === 0 ? 'off' : null);
    push('seed', c.seed);
    push('wall time', s.wallSeconds !== undefined ? fmt(s.wallSeconds, 1) + ' s' : null);
    push('throughput', s.samplesPerSec !== undefined ? fmt(s.samplesPerSec, 0) + ' samples/s, ' + fmt(s.outsideShare * 100, 1) + '% of each step outside the workers' : null);
    push('final losses', s.dLoss !== undefined && s.dLoss !== null ? 'D ' + fmt(s.dLoss) + ', G ' + fmt(s.gLoss) : null);
    if (s.eval && typeof s.eval === 'object') push('quality', 'FCD ' + fmt(s.eval.fcd, 2) + ', classifier score ' + fmt(s.eval.classifierScore, 2) + ', classes ' + s.eval.classesCovered + '/' + (Array.isArray(s.eval.histogram) ? s.eval.histogram.length : '?') +
      (s.evalFloor && typeof s.evalFloor === 'object' ? ' (real floor: FCD ' + fmt(s.evalFloor.fcd, 2) + ')' : ''));
    push('checkpoint', ck.step !== undefined ? 'step ' + ck.step + ' (format ' + ck.format + ' v' + ck.version + ')' : null);
    push('generator', f.hasGenerator ? 'generator/ (TensorFlow.js)' + (f.hasOnnx ? ' and generator.onnx' : '') + (f.generator && f.generator.step !== undefined ? ', step ' + f.generator.step : '') : null);
    push('machine', m ? m.cpuModel + ', ' + m.cores + ' cores, ' + fmt(num(m.totalMemoryBytes) / Math.pow(2, 30), 1) + ' GiB, Node ' + m.node + ', ' + m.os + ', ganpool ' + obj(m.versions).ganpool
      : (f.status === 'finished' ? 'not recorded' : 'recorded in summary.json when the run ends'));
    push('output folder', c.out);
    push('not read', Array.isArray(f.skipped) && f.skipped.length ? f.skipped.join('; ') : null);
    return rows;
  }
  function renderFacts(run) {
    var f = run.facts;
    if (!f) return;
    var rows;
    try {
      rows = factRows(f);
    } catch (e) {
      rows = [['status', f.status], ['facts', 'could not be shown: ' + e.message]];
    }
    $('facts').innerHTML = '<table>' + rows.map(function (r) { return '<tr><th>' + esc(r[0]) + '</th><td>' + esc(r[1]) + '</td></tr>'; }).join('') + '</table>' +
      ['config', 'summary', 'checkpoint'].map(function (k) {
        return f[k] ? '<details><summary>' + k + (k === 'checkpoint' ? ' manifest' : '') + ' (JSON)</summary><pre>' + esc(JSON.stringify(f[k], null, 2)) + '</pre></details>' : '';
      }).join('');
    $('run-status').textContent = f.status;
    $('run-status').className = 'badge ' + f.status;
  }

  function renderSamples(run) {
    var grids = run.samples.grids, slider = $('grid-step'), img = $('grid-at-step');
    var follow = slider.dataset.follow !== 'no';
    slider.max = String(Math.max(0, grids.length - 1));
    slider.disabled = grids.length === 0;
    if (follow) slider.value = slider.max;
    showGridAt(run);
    var latest = run.samples.latest, li = $('grid-latest');
    if (latest) {
      var src = fileUrl(run, latest.file) + (REPORT ? '' : '?v=' + latest.mtimeMs);
      if (li.getAttribute('src') !== src) li.setAttribute('src', src);
      li.hidden = false;
    } else {
      li.hidden = true;
    }
    if (!grids.length) img.hidden = true;
  }
  function showGridAt(run) {
    var grids = run.samples.grids, i = Number($('grid-step').value), img = $('grid-at-step');
    var g = grids[Math.min(i, grids.length - 1)];
    if (!g) { $('grid-step-label').textContent = 'no sample grid yet'; return; }
    var src = fileUrl(run, g.file);
    if (img.getAttribute('src') !== src) img.setAttribute('src', src);
    img.hidden = false;
    $('grid-step-label').textContent = 'step ' + g.step + ' (' + (i + 1) + ' of ' + grids.length + ')';
  }

  // ---- the generator, in the browser (TensorFlow.js, cpu backend) ----
  var gen = null;
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = el('script', { src: src });
      s.onload = resolve; s.onerror = function () { reject(new Error('could not load ' + src)); };
      document.head.appendChild(s);
    });
  }
  function setupGenerator(run) {
    var box = $('generator');
    if (REPORT) { box.innerHTML = '<p class="note">The live generator runs in <code>ganpool view OUT</code>; this static report holds the grids the run saved.</p>'; return; }
    if (!run.facts || !run.facts.hasGenerator) { box.innerHTML = '<p class="note">No exported generator yet (OUT/generator is written at every checkpoint and at the end).</p>'; return; }
    if (gen && gen.runId === run.id) return;
    gen = { runId: run.id, busy: Promise.resolve() };
    box.innerHTML = $('generator-template').innerHTML;
    var status = $('gen-status');
    status.textContent = 'loading TensorFlow.js…';
    var mine = gen;
    // tf.min.js bundles regenerator-runtime, which assigns the global regeneratorRuntime and, in strict mode where that
    // global is undeclared, falls back to Function(): declared here, the assignment succeeds and the page needs no 'unsafe-eval'.
    if (!('regeneratorRuntime' in window)) window.regeneratorRuntime = undefined;
    Promise.all([
      loadScript('/vendor/tf.min.js').then(function () { return tf.setBackend('cpu'); }).then(function () { return tf.ready(); }),
      import('/modules/noise.js'), import('/modules/grid-layout.js'), import('/modules/conditioning.js'),
    ]).then(function (mods) {
      mine.noise = mods[1]; mine.layout = mods[2]; mine.conditioning = mods[3];
      return tf.loadLayersModel(fileUrl(run, 'generator/model.json'));
    }).then(function (model) {
      if (gen !== mine) { model.dispose(); return; }
      var meta = (model.getUserDefinedMetadata() || {}).ganpool || {};
      mine.model = model;
      mine.latentDim = model.inputs[0].shape[1];
      mine.shape = model.outputs[0].shape.slice(1);
      mine.classes = model.inputs.length === 2 ? meta.classes || 0 : 0;
      var seed = Number.isInteger(meta.seed) ? meta.seed : 1;
      $('gen-seed').value = String(seed); $('interp-a').value = String(seed); $('interp-b').value = String(seed + 1);
      if (mine.classes > 0) {
        var sel = $('gen-class');
        sel.appendChild(el('option', { value: 'all', text: 'every class, one row each' }));
        for (var k = 0; k < mine.classes; k++) sel.appendChild(el('option', { value: String(k), text: 'class ' + k }));
        $('gen-class-row').hidden = false;
        sel.onchange = function () { drawGrid(); drawInterp(); };
      }
      status.textContent = 'generator of step ' + (meta.step !== undefined ? meta.step : '?') + ', ' + mine.shape.join('×') + ' images, latent ' + mine.latentDim +
        (mine.classes ? ', ' + mine.classes + ' classes' : '') + '; TensorFlow.js ' + tf.version.tfjs + ' (' + tf.getBackend() + ' backend)';
      $('gen-draw').onclick = drawGrid;
      $('gen-seed').onchange = drawGrid;
      $('interp-t').oninput = drawInterp;
      $('interp-a').onchange = drawInterp; $('interp-b').onchange = drawInterp;
      drawGrid(); drawInterp();
    }).catch(function (e) { status.textContent = 'could not run the generator: ' + e.message; console.error(e); });
  }
  /** Which images a grid holds: { n, labels (Int32Array or null), layout }, as ganpool sample draws them. */
  function plan() {
    var classes = gen.classes, choice = classes > 0 ? $('gen-class').value : null, layout = gen.layout.DEFAULT_GRID_LAYOUT;
    if (!classes) return { n: 64, labels: null, layout: layout };
    if (choice === 'all') return { n: classes * gen.conditioning.GRID_COLUMNS, labels: gen.conditioning.perClassLabels(classes, gen.conditioning.GRID_COLUMNS), layout: { cols: gen.conditioning.GRID_COLUMNS, pad: 2 } };
    return { n: 64, labels: new Int32Array(64).fill(Number(choice)), layout: layout };
  }
  function noiseFor(seed, n) {
    return gen.noise.latentNoise(new Float32Array(n * gen.latentDim), seed, 0, gen.noise.NoiseStream.Sample, 0, gen.latentDim);
  }
  function generate(z, n, labels) {
    var out = tf.tidy(function () {
      var zs = tf.tensor2d(z, [n, gen.latentDim]);
      return gen.model.predict(gen.classes > 0 ? [zs, tf.tensor2d(labels, [n, 1], 'int32')] : zs);
    });
    return out.data().then(function (d) { out.dispose(); return d; });
  }
  function paint(canvas, images, p) {
    var g = gen.layout.tileGrid(images, gen.shape, p.layout), c = g.channels;
    canvas.width = g.width; canvas.height = g.height;
    canvas.style.width = (g.width * 2) + 'px';
    var ctx = canvas.getContext('2d'), img = ctx.createImageData(g.width, g.height);
    for (var i = 0, n = g.width * g.height; i < n; i++) {
      img.data[4 * i] = g.pixels[c * i];
      img.data[4 * i + 1] = g.pixels[c * i + (c === 3 ? 1 : 0)];
      img.data[4 * i + 2] = g.pixels[c * i + (c === 3 ? 2 : 0)];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    canvas.dataset.draws = String(Number(canvas.dataset.draws || 0) + 1);
  }
  function seedOf(id) {
    var v = Number($(id).value);
    return Number.isInteger(v) && v >= 0 && v < 4294967296 ? v : null;
  }
  /** Runs draw jobs one at a time; a job asked for while one runs replaces any other waiting one. */
  function queue(key, job) {
    var mine = gen;
    mine[key] = job;
    mine.busy = mine.busy.then(function () {
      var next = mine[key];
      mine[key] = null;
      if (next && gen === mine) return next();
    }).catch(function (e) { $('gen-status').textContent = 'generator error: ' + e.message; console.error(e); });
  }
  function drawGrid() {
    queue('gridJob', function () {
      var seed = seedOf('gen-seed');
      if (seed === null) { $('gen-status').textContent = 'the seed must be a whole number from 0 to 4294967295'; return; }
      var p = plan();
      return generate(noiseFor(seed, p.n), p.n, p.labels).then(function (images) {
        var canvas = $('gen-grid');
        paint(canvas, images, p);
        canvas.dataset.seed = String(seed);
        canvas.dataset.label = gen.classes ? $('gen-class').value : '';
      });
    });
  }
  function slerp(a, b, t, dim, rows) {
    var out = new Float32Array(a.length);
    for (var r = 0; r < rows; r++) {
      var o = r * dim, dot = 0, na = 0, nb = 0;
      for (var j = 0; j < dim; j++) { dot += a[o + j] * b[o + j]; na += a[o + j] * a[o + j]; nb += b[o + j] * b[o + j]; }
      var cos = Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb || 1))), w = Math.acos(cos), s = Math.sin(w);
      var ka = s < 1e-6 ? 1 - t : Math.sin((1 - t) * w) / s, kb = s < 1e-6 ? t : Math.sin(t * w) / s;
      for (var i = 0; i < dim; i++) out[o + i] = ka * a[o + i] + kb * b[o + i];
    }
    return out;
  }
  function drawInterp() {
    queue('interpJob', function () {
      var a = seedOf('interp-a'), b = seedOf('interp-b'), t = Number($('interp-t').value) / 100;
      if (a === null || b === null) { $('gen-status').textContent = 'seeds A and B must be whole numbers from 0 to 4294967295'; return; }
      var p = plan();
      var z = slerp(noiseFor(a, p.n), noiseFor(b, p.n), t, gen.latentDim, p.n);
      $('interp-label').textContent = 't = ' + t.toFixed(2) + ' (seed ' + a + ' → seed ' + b + ', spherical interpolation of each image\u2019s latent vector)';
      return generate(z, p.n, p.labels).then(function (images) {
        var canvas = $('interp-grid');
        paint(canvas, images, p);
        canvas.dataset.t = t.toFixed(2);
      });
    });
  }

  // ---- the compare view (a folder of runs) ----
  // The columns of the runs table: the settings that differ between the runs (a sweep's grid), then the results.
  var COMPARE_RESULTS = [
    { key: 'steps', title: 'steps' }, { key: 'dLoss', title: 'D loss' }, { key: 'gLoss', title: 'G loss' },
    { key: 'fcd', title: 'FCD', digits: 2 }, { key: 'score', title: 'classifier score', digits: 2 },
    { key: 'classes', title: 'classes' }, { key: 'speed', title: 'samples/s', digits: 0 }, { key: 'wall', title: 'wall s', digits: 1 },
  ];
  function varyingSettings(runs) {
    var keys = [];
    runs.forEach(function (r) { Object.keys((r.facts && r.facts.config) || {}).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    return keys.filter(function (k) {
      if (k === 'out') return false;
      var seen = runs.map(function (r) { var c = (r.facts && r.facts.config) || {}; return JSON.stringify(c[k]); });
      return seen.some(function (v) { return v !== seen[0]; }) && seen.every(function (v) { return v === undefined || v.charAt(0) !== '{' && v.charAt(0) !== '['; });
    });
  }
  function compareRow(r, i, keys) {
    var f = r.facts || {}, c = f.config || {}, sum = f.summary || {}, last = r.steps.length ? r.steps[r.steps.length - 1] : {};
    var ev = sum.eval || (r.evals.length ? r.evals[r.evals.length - 1] : null);
    var row = { run: r, index: i, status: f.status || '', steps: last.step, dLoss: last.dLoss, gLoss: last.gLoss,
      fcd: ev ? ev.fcd : undefined, score: ev ? ev.classifierScore : undefined, classes: ev ? ev.classesCovered : undefined,
      speed: sum.samplesPerSec, wall: sum.wallSeconds, settings: {} };
    keys.forEach(function (k) { row.settings[k] = c[k]; });
    return row;
  }
  function sortValue(row, key) { return key.indexOf('setting:') === 0 ? row.settings[key.slice(8)] : key === 'run' ? row.run.name : row[key]; }
  function sortRows(rows) {
    var key = state.sort.key, dir = state.sort.dir;
    return rows.slice().sort(function (a, b) {
      var x = sortValue(a, key), y = sortValue(b, key), mx = x === undefined || x === null, my = y === undefined || y === null;
      if (mx || my) return mx === my ? a.index - b.index : mx ? 1 : -1; // runs without the value go last
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.index - b.index;
    });
  }
  function renderCompare() {
    var runs = state.runs, sm = state.smoothing, keys = varyingSettings(runs);
    var rows = sortRows(runs.map(function (r, i) { return compareRow(r, i, keys); }));
    var th = function (key, title) {
      var mark = state.sort.key === key ? (state.sort.dir > 0 ? ' ▲' : ' ▼') : '';
      return '<th class="sortable" data-sort="' + esc(key) + '" title="sort by ' + esc(title) + '">' + esc(title) + mark + '</th>';
    };
    $('compare-table').innerHTML = '<table><tr><th></th>' + th('run', 'run') + th('status', 'status') +
      keys.map(function (k) { return th('setting:' + k, k); }).join('') +
      COMPARE_RESULTS.map(function (m) { return th(m.key, m.title); }).join('') + '</tr>' +
      rows.map(function (row) {
        var r = row.run, c = (r.facts && r.facts.config) || {};
        return '<tr><td><input type="checkbox" data-run="' + esc(r.id) + '"' + (state.compare[r.id] !== false ? ' checked' : '') + '></td>' +
          '<td><span class="swatch c' + (row.index % PALETTE.length) + '"></span><a href="#run=' + encodeURIComponent(r.id) + '">' + esc(r.name) + '</a></td>' +
          '<td>' + esc(row.status) + '</td>' +
          keys.map(function (k) { return '<td>' + esc(row.settings[k] === undefined ? '–' : fmt(row.settings[k], 6)) + '</td>'; }).join('') +
          COMPARE_RESULTS.map(function (m) {
            var v = row[m.key];
            return '<td>' + esc(m.key === 'steps' ? (v !== undefined ? v + ' / ' + c.steps : '') : fmt(v, m.digits)) + '</td>';
          }).join('') + '</tr>';
      }).join('') + '</table>';
    Array.prototype.forEach.call(document.querySelectorAll('#compare-table th.sortable'), function (h) {
      h.onclick = function () {
        var key = h.dataset.sort;
        state.sort = { key: key, dir: state.sort.key === key ? -state.sort.dir : 1 };
        renderCompare();
      };
    });
    var gridBox = $('compare-grids');
    gridBox.innerHTML = '';
    rows.forEach(function (row) {
      var r = row.run, latest = r.samples.latest;
      if (!latest || state.compare[r.id] === false) return;
      var img = el('img', { src: fileUrl(r, latest.file) + (REPORT ? '' : '?v=' + latest.mtimeMs), alt: 'latest sample grid of ' + r.name });
      gridBox.appendChild(el('figure', { 'data-run': r.id }, [img, el('figcaption', { text: r.name + (row.fcd !== undefined && row.fcd !== null ? ' · FCD ' + fmt(row.fcd, 2) : '') })]));
    });
    $('compare-grids-card').hidden = gridBox.children.length === 0;
    Array.prototype.forEach.call(document.querySelectorAll('#compare-table input[type=checkbox]'), function (cb) {
      cb.onchange = function () { state.compare[cb.dataset.run] = cb.checked; renderCompare(); };
    });
    var picked = runs.map(function (r, i) { return { run: r, color: PALETTE[i % PALETTE.length] }; }).filter(function (p) { return state.compare[p.run.id] !== false; });
    var box = $('compare-charts');
    box.innerHTML = '';
    var metric = function (id, title, yLabel, key) {
      var d = el('div', { id: id, class: 'chart-box' }); box.appendChild(d);
      drawChart(d, { title: title, xLabel: xLabel(), yLabel: yLabel, series: lines(picked.map(function (p) {
        return { name: p.run.name, color: p.color, xs: xCol(p.run.steps), ys: col(p.run.steps, key) };
      }), sm) });
    };
    metric('compare-d', 'D loss', 'loss', 'dLoss');
    metric('compare-g', 'G loss', 'loss', 'gLoss');
    metric('compare-speed', 'Throughput', 'samples/s', 'samplesPerSec');
    var d = el('div', { id: 'compare-fcd', class: 'chart-box' }); box.appendChild(d);
    drawChart(d, { title: 'FCD (lower is better)', xLabel: xLabel(), yLabel: 'FCD', empty: 'no evaluations logged (train with --eval-every K)', series: picked.map(function (p) {
      return { name: p.run.name, kind: 'raw', color: p.color, markers: true, xs: p.run.evals.map(function (e) { return state.xAxis === 'time' ? e.time : e.step; }), ys: p.run.evals.map(function (e) { return e.fcd; }) };
    }) });
  }

  // ---- routing, polling ----
  function route() {
    var m = /^#run=(.*)$/.exec(location.hash), folder = !(state.runs.length === 1 && state.runs[0].id === '');
    var run = m ? state.byId[decodeURIComponent(m[1])] : (!folder ? state.runs[0] : null);
    if (!run && !folder && state.runs.length) run = state.runs[0];
    state.view = run ? run.id : null;
    $('compare').hidden = !!run;
    $('run').hidden = !run;
    $('back').hidden = !(run && folder);
    $('run-status').hidden = !run;
    $('title').textContent = run ? run.name : state.root + ' (' + state.runs.length + ' runs)';
    document.title = (run ? run.name : state.root) + ' · ganpool view';
    if (run) {
      $('grid-step').dataset.follow = 'yes';
      run.changed = run.samplesChanged = run.factsChanged = true;
    }
    render();
  }
  function render() {
    var run = state.view !== null ? state.byId[state.view] : null;
    if (run) {
      if (run.factsChanged) { renderFacts(run); setupGenerator(run); run.factsChanged = false; }
      if (run.changed) { renderCharts(run); run.changed = false; }
      if (run.samplesChanged) { renderSamples(run); run.samplesChanged = false; }
    } else if (state.runs.length) {
      renderCompare();
      state.runs.forEach(function (r) { r.changed = false; });
    }
  }
  var tick = 0;
  function poll() {
    var visible = state.view !== null ? [state.byId[state.view]] : state.runs;
    var jobs = [];
    visible.forEach(function (r) {
      jobs.push(pollMetrics(r), pollSamples(r));
      if (tick % 10 === 0 || !r.facts) jobs.push(pollFacts(r));
    });
    tick++;
    return Promise.all(jobs).then(function () {
      var dirty = visible.some(function (r) { return r.changed || r.samplesChanged || r.factsChanged; });
      if (dirty) render();
    });
  }
  function loop() {
    poll().catch(function (e) { $('live').textContent = 'not updating: ' + e.message; })
      .then(function () { if (!REPORT) setTimeout(loop, POLL_MS); });
  }

  function start() {
    $('smoothing').oninput = function () {
      state.smoothing = Number($('smoothing').value);
      $('smoothing-value').textContent = state.smoothing.toFixed(2);
      state.runs.forEach(function (r) { r.changed = true; });
      render();
    };
    $('x-axis').onchange = function () { state.xAxis = $('x-axis').value; state.runs.forEach(function (r) { r.changed = true; }); render(); };
    $('grid-step').oninput = function () {
      var s = $('grid-step');
      s.dataset.follow = s.value === s.max ? 'yes' : 'no';
      var run = state.byId[state.view];
      if (run) showGridAt(run);
    };
    window.addEventListener('hashchange', route);
    $('live').textContent = REPORT ? 'static report, written ' + REPORT.writtenAt : 'live: checking for new steps every ' + (POLL_MS / 1000) + ' s';
    api.runs().then(function (info) {
      state.root = info.root;
      state.runs = info.runs.map(newRun);
      state.runs.forEach(function (r) { state.byId[r.id] = r; });
      if (!state.runs.length) { $('title').textContent = info.root + ': no runs here yet'; }
      return Promise.all(state.runs.map(function (r) { return Promise.all([pollFacts(r), pollMetrics(r), pollSamples(r)]); }));
    }).then(function () {
      route();
      document.body.dataset.ready = 'yes';
      loop();
    }).catch(function (e) { $('live').textContent = 'could not load the run: ' + e.message; console.error(e); });
  }
  start();
})();
`;
