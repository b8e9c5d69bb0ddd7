/// The dashboard served at `/`: plain HTML, CSS, JS and SVG, no external downloads.
///
/// Kept in Swift source so the single `logdist` binary carries it (no resource bundle to ship beside it).
enum DashboardPage {
    static let html = ##"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logdist dispatcher</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e3e6ec; --bg: #f6f7f9; --card: #fff;
          --ok: #1a7f37; --warn: #b35900; --bad: #c62828; --off: #6b7280; --odd: #7c3aed; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
         color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 22px; padding: 12px 20px;
           background: var(--card); border-bottom: 1px solid var(--line); }
  h1 { font-size: 18px; margin: 0 8px 0 0; }
  h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  .kv { color: var(--muted); } .kv b { color: var(--fg); font-weight: 600; font-variant-numeric: tabular-nums; }
  #conn { margin-left: auto; font-weight: 600; } #conn.ok { color: var(--ok); } #conn.err { color: var(--bad); }
  #paused-banner { background: var(--bad); color: #fff; font-weight: 600; padding: 8px 20px; }
  main { padding: 14px 20px; display: grid; grid-template-columns: 3fr 2fr; gap: 14px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
  .wide { grid-column: 1 / -1; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
  tbody tr:last-child td { border-bottom: 0; }
  .stale-data td { opacity: .55; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
  .r-healthy { background: var(--ok); } .r-lagging { background: var(--warn); } .r-stale, .r-down { background: var(--bad); }
  .r-zeroWeight { background: var(--off); } .r-conflict { background: var(--odd); } .r-unknown { background: var(--off); }
  button { font: inherit; font-size: 12px; padding: 2px 10px; border: 1px solid #c9ced8; border-radius: 5px;
           background: #fff; cursor: pointer; } button:hover { background: #f0f2f5; } button:disabled { opacity: .5; cursor: default; }
  button.fail { color: var(--bad); } td.actions { display: flex; gap: 6px; justify-content: flex-end; }
  #action-status { margin-top: 8px; min-height: 1.4em; color: var(--muted); font-size: 13px; }
  #action-status.err { color: var(--bad); } #action-status.ok { color: var(--ok); }
  #chart { width: 100%; height: auto; display: block; }
  #chart text { font-size: 11px; fill: var(--muted); }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 6px; font-size: 13px; font-variant-numeric: tabular-nums; }
  .dist-row { display: grid; grid-template-columns: 70px 1fr 120px; gap: 10px; align-items: center; margin: 8px 0; }
  .dist-track { position: relative; height: 18px; background: #eef0f4; border-radius: 4px; }
  .dist-bar { position: absolute; left: 0; top: 3px; bottom: 3px; border-radius: 3px; transition: width .4s; }
  .dist-mark { position: absolute; top: -3px; bottom: -3px; width: 2px; margin-left: -1px; background: var(--fg); transition: left .4s; }
  .dist-id { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .dist-num { text-align: right; font-variant-numeric: tabular-nums; font-size: 13px; }
  .note { color: var(--muted); font-size: 12px; margin-top: 6px; }
  .empty { color: var(--muted); padding: 14px 8px; text-align: center; }
</style>
</head>
<body data-updates="0">
<header>
  <h1>logdist dispatcher</h1>
  <span class="kv">instance <b id="instance">–</b></span>
  <span class="kv">delivery <b id="delivery">–</b></span>
  <span class="kv">input partitions <b id="partitions">–</b></span>
  <span class="kv">dispatched <b id="dispatched-total">0</b></span>
  <span class="kv">rate <b id="total-rate">–</b> pkt/s</span>
  <span class="kv">updated <b id="updated">never</b></span>
  <span id="conn">connecting…</span>
</header>
<div id="paused-banner" hidden>PAUSED — no healthy analyser; input partitions are paused and the backlog is waiting in Kafka.</div>
<main>
  <section class="wide">
    <h2>Analysers</h2>
    <table>
      <thead><tr>
        <th>id</th><th>partition</th><th>state / health</th><th>weight</th><th>heartbeat age</th><th>committed</th>
        <th>end offset</th><th>lag</th><th>dispatched</th><th>packets/s</th><th title="share of the last 10 s / expected share">share / expected</th><th>actions</th>
      </tr></thead>
      <tbody id="analyser-rows"><tr class="placeholder"><td colspan="12" class="empty">waiting for the dispatcher…</td></tr></tbody>
    </table>
    <div id="action-status"></div>
  </section>
  <section>
    <h2>Packets/s per analyser — last 120 s</h2>
    <svg id="chart" viewBox="0 0 720 260" role="img" aria-label="packets per second per analyser"></svg>
    <div id="legend" class="legend"></div>
  </section>
  <section>
    <h2>Distribution vs weights</h2>
    <div id="dist"></div>
    <div class="note">bar: observed share of the last 10 s · black mark: expected share (weight / healthy weights)</div>
  </section>
</main>
<script>
"use strict";
const POLL_MS = 1000, WINDOW_MS = 120000, TOKEN_KEY = "logdist.adminToken";
const PALETTE = ["#2563eb", "#e8590c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const colors = new Map();        // analyser id -> color, stable for the page's lifetime
const rows = new Map();          // analyser id -> {tr, cells}
const distRows = new Map();      // analyser id -> {row, bar, mark, num}
const last = new Map();          // analyser id -> {dispatched, t} from the previous successful poll
let samples = [];                // [{t, rates: Map(id -> packets/s)}]
let updates = 0;

function colorOf(id) {
  if (!colors.has(id)) colors.set(id, PALETTE[colors.size % PALETTE.length]);
  return colors.get(id);
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
const isNum = (v) => typeof v === "number" && isFinite(v);
const int = (v) => isNum(v) ? String(Math.round(v)) : "–";
const pct = (v) => isNum(v) ? (v * 100).toFixed(1) + "%" : "–";
function age(ms) {
  if (!isNum(ms)) return "–";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  if (ms < 3600000) return Math.floor(ms / 60000) + " m " + Math.floor(ms % 60000 / 1000) + " s";
  return (ms / 3600000).toFixed(1) + " h";
}

// ---- table -------------------------------------------------------------------------------------
const COLS = ["id", "partition", "health", "weight", "age", "committed", "end", "lag", "dispatched", "rate", "share", "actions"];
function makeRow(id) {
  const tr = el("tr");
  tr.dataset.analyser = id;
  const cells = {};
  for (const c of COLS) { cells[c] = el("td", c); tr.appendChild(cells[c]); }
  const sw = el("span", "swatch"); sw.style.background = colorOf(id);
  cells.id.append(sw, document.createTextNode(id));
  cells.health.appendChild(el("span", "badge"));
  cells.actions.className = "actions";
  const fail = el("button", "fail", "Fail"), begin = el("button", "begin", "Begin");
  fail.type = begin.type = "button";
  fail.title = "stop " + id + " consuming and heartbeating"; begin.title = "resume " + id;
  fail.addEventListener("click", () => act(id, "fail", [fail, begin]));
  begin.addEventListener("click", () => act(id, "begin", [fail, begin]));
  cells.actions.append(fail, begin);
  return { tr, cells };
}
function renderTable(list, rates) {
  const body = $("analyser-rows");
  const ph = body.querySelector("tr.placeholder");
  if (ph) ph.remove();
  const seen = new Set();
  for (const a of list) {
    const s = a.status, id = s.id;
    seen.add(id);
    let r = rows.get(id);
    if (!r) { r = makeRow(id); rows.set(id, r); }
    body.appendChild(r.tr);   // keeps server order; moving an existing node is cheap
    const c = r.cells, reason = String(s.reason || "unknown");
    c.partition.textContent = int(s.partition);
    const badge = c.health.firstChild;
    badge.className = "badge r-" + (/^[a-zA-Z]+$/.test(reason) ? reason : "unknown");
    badge.textContent = (s.state || "?") + " · " + reason;
    c.weight.textContent = int(s.weight);
    c.age.textContent = age(s.heartbeatAgeMs);
    c.committed.textContent = int(s.committedOffset);
    c.end.textContent = int(s.endOffset);
    c.lag.textContent = int(s.lag);
    c.dispatched.textContent = int(a.dispatched);
    c.rate.textContent = isNum(rates.get(id)) ? rates.get(id).toFixed(1) : "–";
    c.rate.title = "server 10 s average: " + (isNum(a.recentRate) ? a.recentRate.toFixed(1) : "–") + " pkt/s";
    c.share.textContent = pct(a.recentShare) + " / " + pct(a.expectedShare);
    c.share.title = "since start: " + pct(a.share);
    if (s.url) c.id.title = s.url;
  }
  for (const [id, r] of rows) if (!seen.has(id)) { r.tr.remove(); rows.delete(id); }
  if (!list.length) {
    const tr = el("tr", "placeholder"), td = el("td", "empty", "no analyser has sent a heartbeat yet");
    td.colSpan = COLS.length; tr.appendChild(td); body.appendChild(tr);
  }
}

// ---- rates & chart ------------------------------------------------------------------------------
function computeRates(list, t) {
  const rates = new Map();
  for (const a of list) {
    const id = a.status.id, prev = last.get(id);
    let rate = isNum(a.recentRate) ? a.recentRate : 0;
    if (prev && isNum(a.dispatched) && a.dispatched >= prev.dispatched && t - prev.t >= 200) {
      rate = (a.dispatched - prev.dispatched) * 1000 / (t - prev.t);
    }
    if (isNum(a.dispatched)) last.set(id, { dispatched: a.dispatched, t });
    rates.set(id, rate);
  }
  return rates;
}
function niceMax(v) {
  if (!(v > 0)) return 10;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function renderChart(now) {
  const chart = $("chart"), W = 720, H = 260, L = 52, R = 12, T = 10, B = 26, pw = W - L - R, ph = H - T - B;
  chart.replaceChildren();
  let max = 0;
  for (const s of samples) for (const v of s.rates.values()) max = Math.max(max, v);
  const top = niceMax(max * 1.05);
  const x = (t) => L + (t - (now - WINDOW_MS)) / WINDOW_MS * pw, y = (v) => T + ph - v / top * ph;
  for (let i = 0; i <= 4; i++) {
    const v = top * i / 4, yy = y(v);
    chart.appendChild(svg("line", { x1: L, x2: W - R, y1: yy, y2: yy, stroke: i ? "#eef0f4" : "#c9ced8" }));
    const label = top >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
    chart.appendChild(svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, label));
  }
  for (let s = 0; s <= 120; s += 30) {
    chart.appendChild(svg("text", { x: L + (1 - s / 120) * pw, y: H - 8, "text-anchor": "middle" }, s ? "−" + s + " s" : "now"));
  }
  chart.appendChild(svg("text", { x: 12, y: T + ph / 2, transform: "rotate(-90 12 " + (T + ph / 2) + ")", "text-anchor": "middle" }, "packets/s"));
  const ids = new Set();
  for (const s of samples) for (const id of s.rates.keys()) ids.add(id);
  for (const id of ids) {
    const pts = [];
    for (const s of samples) if (s.rates.has(id)) pts.push(x(s.t).toFixed(1) + "," + y(s.rates.get(id)).toFixed(1));
    if (pts.length === 1) pts.push(pts[0]);
    chart.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: colorOf(id), "stroke-width": 2,
      "stroke-linejoin": "round", "stroke-linecap": "round", "data-analyser": id }));
  }
  const legend = $("legend"), cur = samples.length ? samples[samples.length - 1].rates : new Map();
  legend.replaceChildren();
  for (const id of ids) {
    const item = el("span"), sw = el("span", "swatch");
    sw.style.background = colorOf(id);
    item.append(sw, document.createTextNode(id + "  " + (cur.has(id) ? cur.get(id).toFixed(1) : "–") + " pkt/s"));
    legend.appendChild(item);
  }
}

// ---- distribution -------------------------------------------------------------------------------
function renderDist(list) {
  const box = $("dist"), seen = new Set();
  for (const a of list) {
    const id = a.status.id;
    seen.add(id);
    let d = distRows.get(id);
    if (!d) {
      d = { row: el("div", "dist-row"), track: el("div", "dist-track"), bar: el("div", "dist-bar"), mark: el("div", "dist-mark"), num: el("div", "dist-num") };
      d.bar.style.background = colorOf(id);
      d.track.append(d.bar, d.mark);
      const name = el("div", "dist-id", id); name.title = id;
      d.row.append(name, d.track, d.num);
      distRows.set(id, d);
    }
    box.appendChild(d.row);
    const obs = isNum(a.recentShare) ? Math.min(Math.max(a.recentShare, 0), 1) : 0;
    const exp = isNum(a.expectedShare) ? Math.min(Math.max(a.expectedShare, 0), 1) : 0;
    d.bar.style.width = (obs * 100).toFixed(2) + "%";
    d.mark.style.left = (exp * 100).toFixed(2) + "%";
    d.num.textContent = pct(a.recentShare) + " / " + pct(a.expectedShare);
    d.row.title = id + ": observed (10 s) " + pct(a.recentShare) + ", expected " + pct(a.expectedShare) + ", since start " + pct(a.share);
  }
  for (const [id, d] of distRows) if (!seen.has(id)) { d.row.remove(); distRows.delete(id); }
}

// ---- polling ------------------------------------------------------------------------------------
function setConn(ok, text) { const c = $("conn"); c.className = ok ? "ok" : "err"; c.textContent = text; }
function render(view) {
  const now = Date.now();
  const list = (Array.isArray(view.analysers) ? view.analysers : []).filter((a) => a && a.status && a.status.id != null)
    .map((a) => (a.status.id = String(a.status.id), a));
  const rates = computeRates(list, now);
  samples.push({ t: now, rates });
  samples = samples.filter((s) => s.t >= now - WINDOW_MS);
  $("instance").textContent = view.instance != null ? String(view.instance) : "–";
  $("delivery").textContent = view.delivery != null ? String(view.delivery) : "–";
  $("partitions").textContent = Array.isArray(view.inputPartitions) ? view.inputPartitions.join(", ") || "none" : "–";
  $("dispatched-total").textContent = int(view.dispatchedTotal);
  let total = 0; for (const v of rates.values()) total += v;
  $("total-rate").textContent = total.toFixed(1);
  $("updated").textContent = new Date(now).toLocaleTimeString();
  $("paused-banner").hidden = view.paused !== true;
  renderTable(list, rates);
  renderChart(now);
  renderDist(list);
}
async function poll() {
  const started = Date.now();
  const ctl = new AbortController(), timer = setTimeout(() => ctl.abort(), 3000);
  try {
    const res = await fetch("/v1/analysers", { cache: "no-store", signal: ctl.signal, headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const view = await res.json();
    render(view);
    updates += 1;
    document.body.dataset.updates = String(updates);
    $("analyser-rows").classList.remove("stale-data");
    setConn(true, "live");
  } catch (e) {
    setConn(false, "dispatcher unreachable");
    $("analyser-rows").classList.add("stale-data");
  } finally {
    clearTimeout(timer);
    setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
  }
}

// ---- fail / begin -------------------------------------------------------------------------------
function status(text, kind) { const s = $("action-status"); s.className = kind || ""; s.textContent = text; }
function token() {
  let t = sessionStorage.getItem(TOKEN_KEY);
  if (!t) {
    t = window.prompt("Admin token (kept in this tab's session storage only):", "");
    t = t ? t.trim() : "";
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
  }
  return t;
}
async function act(id, action, buttons) {
  const t = token();
  if (!t) { status(action + " " + id + ": cancelled, no admin token given", "err"); return; }
  buttons.forEach((b) => (b.disabled = true));
  status(action + " " + id + ": sending…");
  try {
    const res = await fetch("/v1/analysers/" + encodeURIComponent(id) + "/" + action,
      { method: "POST", cache: "no-store", headers: { Authorization: "Bearer " + t } });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      status(action + " " + id + ": HTTP 401 unauthorized — stored token cleared, you will be asked again", "err");
    } else {
      let body = "";
      try { body = (await res.text()).replace(/\s+/g, " ").trim().slice(0, 160); } catch (e) { /* ignore */ }
      status(action + " " + id + ": HTTP " + res.status + (res.statusText ? " " + res.statusText : "") + (body ? " — " + body : ""),
        res.ok ? "ok" : "err");
    }
  } catch (e) {
    status(action + " " + id + ": failed — dispatcher unreachable", "err");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

poll();
</script>
</body>
</html>
"""##
}
