// parallel-work-manager dashboard: fetch /dashboard/data and draw inline SVG charts.
// No libraries: every chart is a few <rect>/<text> elements, labelled so they read without hover.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function money(v) {
    if (v === null || v === undefined) return "–";
    // Below a cent, two significant digits (a $0.004 budget reads "$0.004"), as the CLI prints it.
    if (v !== 0 && Math.abs(v) < 0.01) {
      const decimals = Math.min(10, 1 - Math.floor(Math.log10(Math.abs(v))));
      return (v < 0 ? "-$" : "$") + Math.abs(v).toFixed(decimals).replace(/0+$/, "");
    }
    return "$" + v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function ms(v) { return v === null || v === undefined ? "–" : v >= 1000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms"; }
  function empty(target, text) {
    target.replaceChildren(Object.assign(document.createElement("div"), { className: "empty", textContent: text }));
  }
  function svgBox(width, height, label) {
    return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  }

  function tiles(data) {
    const t = data.totals;
    const items = [
      ["Spend", money(t.spend_usd)], ["Calls", t.calls.toLocaleString()], ["Success", pct(t.success_rate)],
      ["Latency p95", ms(t.latency_ms.p95)], ["Saved vs quality model", money(t.saving_usd)],
      ["Running groups", String(data.groups.filter((g) => g.status === "running").length)],
    ];
    $("tiles").replaceChildren(...items.map(([k, v]) => {
      const d = document.createElement("div");
      d.className = "tile";
      d.innerHTML = '<div class="k"></div><div class="v"></div>';
      d.querySelector(".k").textContent = k;
      d.querySelector(".v").textContent = v;
      d.dataset.tile = k;
      return d;
    }));
  }

  // Vertical bars: spend per day. Every day of the period has a slot (the time axis is even) and
  // the value axis uses the server's round, evenly spaced ticks (`spend_axis`).
  function dayChart(rows, ticks) {
    const target = $("chart-days");
    if (!rows.some((r) => r.calls > 0)) return empty(target, "No calls in this period.");
    const W = 900, H = 240, L = 56, B = 34, T = 14;
    const max = ticks[ticks.length - 1];
    const svg = svgBox(W, H, "Spend per day");
    ticks.forEach((tick) => {
      const y = T + (H - T - B) * (1 - tick / max);
      svg.append(el("line", { class: "grid", x1: L, x2: W - 6, y1: y, y2: y }));
      svg.append(el("text", { class: "axis", x: L - 6, y: y + 4, "text-anchor": "end", "data-tick": String(tick) }, money(tick)));
    });
    const slot = (W - L - 6) / rows.length;
    const every = Math.ceil(rows.length / 12);
    rows.forEach((r, i) => {
      const h = ((H - T - B) * r.spend_usd) / max;
      const x = L + i * slot + slot * 0.15;
      const bar = el("rect", { class: "bar", x, y: H - B - h, width: Math.max(slot * 0.7, 1), height: Math.max(h, 0.5),
        "data-day": r.day, "data-spend": r.spend_usd.toFixed(6) });
      bar.append(el("title", {}, `${r.day}: ${money(r.spend_usd)} over ${r.calls} call${r.calls === 1 ? "" : "s"}`));
      svg.append(bar);
      if (i % every === 0) svg.append(el("text", { class: "axis", x: x + slot * 0.35, y: H - B + 16, "text-anchor": "middle", "data-day-tick": r.day }, r.day.slice(5)));
    });
    target.replaceChildren(svg);
  }

  // Horizontal bars with a label column; `value(row)` in [0, max], `label(row)` printed at the end.
  function hbars(targetId, rows, opts) {
    const target = $(targetId);
    if (!rows.length) return empty(target, opts.emptyText || "No data yet.");
    const W = 560, row = 26, L = 190, R = 90;
    const svg = svgBox(W, rows.length * row + 8, opts.title);
    const max = opts.max || Math.max(...rows.map(opts.value), 1e-9);
    rows.forEach((r, i) => {
      const y = 4 + i * row;
      const name = opts.name(r);
      const label = el("text", { x: L - 8, y: y + 16, "text-anchor": "end", "data-label": name }, name.length > 28 ? "…" + name.slice(-27) : name);
      label.append(el("title", {}, name));
      svg.append(label);
      svg.append(el("rect", { class: "track", x: L, y: y + 4, width: W - L - R, height: 16, rx: 3 }));
      const w = ((W - L - R) * Math.max(opts.value(r), 0)) / max;
      svg.append(el("rect", { class: "bar " + (opts.cls ? opts.cls(r) : ""), x: L, y: y + 4, width: Math.max(w, 0.5), height: 16, rx: 3,
        "data-model": name, "data-value": String(opts.value(r)) }));
      svg.append(el("text", { x: W - R + 6, y: y + 16 }, opts.label(r)));
    });
    target.replaceChildren(svg);
  }

  function latencyChart(models) {
    const target = $("chart-latency");
    const rows = models.filter((m) => m.latency_ms.p50 !== null);
    if (!rows.length) return empty(target, "No successful calls yet.");
    const W = 900, group = 44, L = 220, R = 80;
    const max = Math.max(...rows.map((m) => m.latency_ms.p99 || 0), 1);
    const svg = svgBox(W, rows.length * group + 8, "Latency percentiles per model");
    rows.forEach((m, i) => {
      const y = 4 + i * group;
      svg.append(el("text", { x: L - 8, y: y + 22, "text-anchor": "end", "data-label": m.model_id }, m.model_id));
      ["p50", "p95", "p99"].forEach((p, j) => {
        const v = m.latency_ms[p] || 0;
        const w = ((W - L - R) * v) / max;
        svg.append(el("rect", { class: "bar " + p, x: L, y: y + 4 + j * 12, width: Math.max(w, 0.5), height: 10, rx: 2,
          "data-model": m.model_id, "data-percentile": p, "data-value": String(v) }));
        svg.append(el("text", { class: "axis", x: L + w + 6, y: y + 13 + j * 12 }, `${p} ${ms(v)}`));
      });
    });
    target.replaceChildren(svg);
  }

  // Recent groups, running and finished, newest first.
  function groupsChart(groups) {
    hbars("groups", groups, {
      title: "Recent groups", emptyText: "No group yet.", max: 1,
      name: (g) => g.name, value: (g) => g.progress,
      label: (g) => `${g.status} · ${g.done}/${g.tasks} · ${money(g.cost_usd)}`,
      cls: (g) => (g.status === "running" ? "running" : g.failed ? "warn" : "good"),
    });
  }

  function budgetChart(budget) {
    const periods = ((budget && budget.periods) || []).filter((p) => p.limit !== null);
    hbars("budget", periods, {
      title: "Budgets", emptyText: "No budget limits configured.", max: 1,
      name: (p) => p.name, value: (p) => Math.min((p.spent + p.reserved) / p.limit, 1),
      label: (p) => `${money(p.spent + p.reserved)} / ${money(p.limit)}`,
      cls: (p) => (p.state === "stop" ? "bad" : p.state === "warn" ? "warn" : "good"),
    });
  }

  function recs(list) {
    const target = $("recs");
    if (!list.length) {
      target.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Nothing in the data calls for a change." }));
      return;
    }
    target.replaceChildren(...list.map((r) => {
      const li = document.createElement("li");
      li.textContent = r.recommendation + (r.estimated_saving_usd ? ` (est. saving ${money(r.estimated_saving_usd)})` : "");
      return li;
    }));
  }

  function render(data) {
    tiles(data);
    dayChart(data.spend_per_day, data.spend_axis);
    hbars("chart-models", data.models, {
      title: "Spend per model", name: (m) => m.model_id, value: (m) => m.spend_usd,
      label: (m) => money(m.spend_usd),
    });
    hbars("chart-success", data.models.filter((m) => m.success_rate !== null), {
      title: "Success rate per model", max: 1, name: (m) => m.model_id, value: (m) => m.success_rate,
      label: (m) => pct(m.success_rate) + (m.health !== "healthy" ? " · " + m.health : ""),
      cls: (m) => (m.success_rate < 0.8 ? "bad" : m.success_rate < 0.95 ? "warn" : "good"),
    });
    latencyChart(data.models);
    groupsChart(data.groups);
    budgetChart(data.budget);
    recs(data.recommendations);
    $("updated").textContent = "updated " + new Date(data.generated_at * 1000).toLocaleTimeString();
    document.body.dataset.ready = "1";
  }

  async function load() {
    try {
      const response = await fetch("/dashboard/data?days=" + encodeURIComponent($("days").value), { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (err) {
      $("updated").textContent = "could not load data: " + err.message;
    }
  }
  $("days").addEventListener("change", load);
  load();
  setInterval(load, 10000);
})();
