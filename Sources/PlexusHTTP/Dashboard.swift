/// The dashboard page served at `/`: one self-contained HTML document (inline CSS and script, no
/// external scripts, fonts or images), so it works on a host with no internet access.
///
/// It polls `/v1/status` and `/v1/history` every 2 s and shows: the relay (node, version,
/// readiness, uptime), the members with state and zone, clusters and topics with the relays
/// that serve / want them, live charts over the last minutes (request, event and relay-frame
/// rates, latency, clients and queued bytes) and slow consumers (drops by topic and cluster).
/// Script errors are shown on the page and kept in `document.body.dataset.errors`; a completed
/// render sets `document.body.dataset.rendered` (the headless-browser test reads both).
enum Dashboard {
    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Plexus relay</title>
    <style>
    :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#677086; --line:#e2e5ec;
            --alive:#1f9d55; --suspect:#d69e2e; --dead:#c53030; --left:#718096; --accent:#3b5bdb; }
    * { box-sizing: border-box; }
    body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
    header { display:flex; flex-wrap:wrap; gap:16px; align-items:baseline; padding:14px 20px; background:var(--ink); color:#fff; }
    header h1 { font-size:18px; margin:0; }
    header .meta { color:#c9cfdc; }
    .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
    main { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:14px; padding:14px 20px; }
    section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
    section.wide { grid-column:1 / -1; }
    h2 { font-size:13px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); margin:0 0 8px; }
    table { width:100%; border-collapse:collapse; }
    th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
    th { color:var(--muted); font-weight:600; font-size:12px; }
    code { font:12px ui-monospace, SFMono-Regular, Menlo, monospace; }
    .charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr)); gap:12px; }
    .chart h3 { font-size:12px; margin:0 0 4px; color:var(--muted); font-weight:600; }
    canvas { width:100%; height:140px; border:1px solid var(--line); border-radius:4px; background:#fcfcfd; }
    .empty { color:var(--muted); font-style:italic; }
    #errors { display:none; background:#fff5f5; color:var(--dead); border:1px solid #feb2b2; margin:14px 20px 0; padding:8px 12px; border-radius:6px; }
    </style>
    </head>
    <body data-rendered="0" data-errors="">
    <header>
      <h1>Plexus relay <code id="node">…</code></h1>
      <span id="ready" class="badge" style="background:var(--left)">loading</span>
      <span class="meta" id="meta"></span>
    </header>
    <div id="errors"></div>
    <main>
      <section class="wide">
        <h2>Members</h2>
        <table id="members"><thead><tr><th>Node</th><th>State</th><th>Zone</th><th>Address</th><th>Clusters</th><th>Topics</th></tr></thead><tbody></tbody></table>
      </section>
      <section>
        <h2>Clusters</h2>
        <table id="clusters"><thead><tr><th>Cluster</th><th>Served by (capacity)</th></tr></thead><tbody></tbody></table>
      </section>
      <section>
        <h2>Topics</h2>
        <table id="topics"><thead><tr><th>Topic</th><th>Wanted by</th></tr></thead><tbody></tbody></table>
      </section>
      <section class="wide">
        <h2>Last minutes</h2>
        <div class="charts">
          <div class="chart"><h3>Requests / s</h3><canvas id="c-requests" width="600" height="280"></canvas></div>
          <div class="chart"><h3>Events and broadcasts / s</h3><canvas id="c-events" width="600" height="280"></canvas></div>
          <div class="chart"><h3>Request latency (ms, p50 / p99)</h3><canvas id="c-latency" width="600" height="280"></canvas></div>
          <div class="chart"><h3>Relay frames / s (sent / received)</h3><canvas id="c-frames" width="600" height="280"></canvas></div>
          <div class="chart"><h3>Clients and pending requests</h3><canvas id="c-clients" width="600" height="280"></canvas></div>
          <div class="chart"><h3>Queued bytes (clients + relays)</h3><canvas id="c-queued" width="600" height="280"></canvas></div>
        </div>
      </section>
      <section class="wide">
        <h2>Slow consumers</h2>
        <div id="slow" class="empty">none</div>
      </section>
    </main>
    <script>
    "use strict";
    const errors = [];
    function reportError(message) {
      errors.push(String(message));
      document.body.dataset.errors = errors.join(" | ");
      const box = document.getElementById("errors");
      box.style.display = "block";
      box.textContent = "Dashboard error: " + errors.join("; ");
    }
    window.addEventListener("error", e => reportError(e.message));
    window.addEventListener("unhandledrejection", e => reportError(e.reason));

    const stateColor = { alive: "var(--alive)", suspect: "var(--suspect)", dead: "var(--dead)", left: "var(--left)" };
    function el(tag, text, style) {
      const node = document.createElement(tag);
      if (text !== undefined) node.textContent = text;
      if (style) node.setAttribute("style", style);
      return node;
    }
    function short(node) { return node ? node.slice(0, 12) : "?"; }
    function fill(tableId, rows) {
      const body = document.querySelector("#" + tableId + " tbody");
      body.replaceChildren();
      if (rows.length === 0) {
        const tr = el("tr"); const td = el("td", "none", "color:var(--muted)"); td.colSpan = 6; tr.append(td); body.append(tr);
      }
      for (const cells of rows) {
        const tr = el("tr");
        for (const cell of cells) { const td = el("td"); td.append(cell); tr.append(td); }
        body.append(tr);
      }
    }

    function renderStatus(status) {
      document.getElementById("node").textContent = short(status.node);
      const ready = document.getElementById("ready");
      ready.textContent = status.ready ? "ready" : (status.draining ? "draining" : "not ready");
      ready.style.background = status.ready ? "var(--alive)" : "var(--suspect)";
      ready.title = status.reason || "";
      const relay = status.relay || {};
      document.getElementById("meta").textContent =
        "v" + status.version + " · " + status.address + " · up " + Math.round(status.uptimeSeconds) + " s · " +
        (relay.connections ?? 0) + " clients · " + (relay.peerSessions ?? 0) + " relay sessions";

      const members = status.members || [];
      fill("members", members.map(m => {
        const node = el("code", short(m.node) + (m.isSelf ? " (self)" : ""));
        const badge = el("span", m.state, "background:" + (stateColor[m.state] || "var(--left)"));
        badge.className = "badge";
        return [node, badge, m.zone || "–", m.address,
                (m.clusters || []).map(c => c.name + " (" + c.capacity + ")").join(", ") || "–",
                (m.topics || []).join(", ") || "–"];
      }));

      const clusters = new Map(), topics = new Map();
      for (const m of members) {
        if (m.state !== "alive" && m.state !== "suspect") continue;
        for (const c of m.clusters || []) {
          if (!clusters.has(c.name)) clusters.set(c.name, []);
          clusters.get(c.name).push(short(m.node) + " (" + c.capacity + ")");
        }
        for (const t of m.topics || []) {
          if (!topics.has(t)) topics.set(t, []);
          topics.get(t).push(short(m.node));
        }
      }
      const sorted = map => [...map.entries()].sort((a, b) => a[0].localeCompare(b[0]));
      fill("clusters", sorted(clusters).map(([name, nodes]) => [el("code", name), nodes.join(", ")]));
      fill("topics", sorted(topics).map(([name, nodes]) => [el("code", name), nodes.join(", ")]));

      const slow = document.getElementById("slow");
      const lines = [];
      for (const [name, count] of Object.entries(relay.droppedEvents || {})) lines.push("topic " + name + ": " + count + " events dropped");
      for (const [name, count] of Object.entries(relay.droppedBroadcasts || {})) lines.push("cluster " + name + ": " + count + " broadcasts dropped");
      for (const [name, count] of Object.entries(relay.overloadedRequests || {})) lines.push("cluster " + name + ": " + count + " requests refused (overloaded)");
      slow.className = lines.length ? "" : "empty";
      slow.textContent = lines.length ? lines.join("\\n") : "none: no event, broadcast or request dropped at a full queue";
      slow.style.whiteSpace = "pre-line";
    }

    function rates(points, key) {
      const out = [];
      for (let i = 1; i < points.length; i++) {
        const a = points[i - 1][key], b = points[i][key];
        const seconds = (points[i].time - points[i - 1].time) / 1000;
        out.push(a == null || b == null || seconds <= 0 ? null : Math.max(0, (b - a) / seconds));
      }
      return out;
    }
    function drawChart(id, series, emptyText) {
      const canvas = document.getElementById(id);
      const ctx = canvas.getContext("2d");
      const w = canvas.width, h = canvas.height, pad = 34;
      ctx.clearRect(0, 0, w, h);
      ctx.font = "20px system-ui, sans-serif";
      const values = series.flatMap(s => s.values.filter(v => v != null));
      if (values.length === 0) {
        ctx.fillStyle = "#677086";
        ctx.fillText(emptyText || "no data yet", pad, h / 2);
        return;
      }
      const max = Math.max(1, ...values) * 1.1;
      ctx.strokeStyle = "#e2e5ec"; ctx.lineWidth = 1;
      for (let i = 0; i <= 4; i++) {
        const y = pad / 2 + (h - pad) * i / 4;
        ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(w - 8, y); ctx.stroke();
      }
      ctx.fillStyle = "#677086";
      ctx.fillText(max >= 100 ? Math.round(max) : max.toPrecision(3), 2, pad / 2 + 6);
      ctx.fillText("0", 2, h - pad / 2);
      series.forEach((s, index) => {
        const n = s.values.length;
        ctx.strokeStyle = s.color; ctx.lineWidth = 3; ctx.beginPath();
        let started = false;
        s.values.forEach((v, i) => {
          if (v == null) { started = false; return; }
          const x = pad + (w - pad - 8) * (n <= 1 ? 1 : i / (n - 1));
          const y = pad / 2 + (h - pad) * (1 - v / max);
          if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
        });
        ctx.stroke();
        ctx.fillStyle = s.color;
        ctx.fillText(s.label, pad + 8 + index * 150, h - 6);
      });
    }
    function renderHistory(points) {
      const noTraffic = "the relay core does not count requests yet";
      const counted = points.some(p => p.requests != null);
      drawChart("c-requests", [{ label: "requests", color: "#3b5bdb", values: rates(points, "requests") }], counted ? "" : noTraffic);
      drawChart("c-events", [{ label: "events", color: "#1f9d55", values: rates(points, "events") },
                             { label: "broadcasts", color: "#d69e2e", values: rates(points, "broadcasts") }], counted ? "" : noTraffic);
      drawChart("c-latency", [{ label: "p50", color: "#3b5bdb", values: points.map(p => p.latencyP50) },
                              { label: "p99", color: "#c53030", values: points.map(p => p.latencyP99) }], counted ? "" : noTraffic);
      drawChart("c-frames", [{ label: "sent", color: "#3b5bdb", values: rates(points, "relayFramesSent") },
                             { label: "received", color: "#1f9d55", values: rates(points, "relayFramesReceived") }]);
      drawChart("c-clients", [{ label: "clients", color: "#3b5bdb", values: points.map(p => p.clients) },
                              { label: "pending", color: "#d69e2e", values: points.map(p => p.pendingRequests) }]);
      drawChart("c-queued", [{ label: "bytes", color: "#805ad5", values: points.map(p => p.queuedBytes) }]);
    }

    async function getJSON(path) {
      const response = await fetch(path, { cache: "no-store" });
      if (!response.ok && response.status !== 503) throw new Error(path + ": HTTP " + response.status);
      return response.json();
    }
    let failures = 0;
    async function refresh() {
      try {
        const [status, history] = await Promise.all([getJSON("/v1/status"), getJSON("/v1/history")]);
        renderStatus(status);
        renderHistory(history.points || []);
        failures = 0;
        document.getElementById("errors").style.display = errors.length ? "block" : "none";
        document.body.dataset.rendered = "1";
      } catch (error) {
        failures += 1;
        const ready = document.getElementById("ready");
        ready.textContent = "relay unreachable"; ready.style.background = "var(--dead)";
        if (failures > 2) reportError(error.message || error);
      }
    }
    refresh();
    setInterval(refresh, 2000);
    </script>
    </body>
    </html>
    """
}
