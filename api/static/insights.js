// Service insights dashboard (/ops/insights): KPIs, charts (Chart.js, vendored under
// /static/vendor/chartjs), agents, KB entries, unanswered clusters, the quality review queue.
// Talks to /api/v1/insights/*, /api/v1/quality/* and /api/v1/kb/inbox. Roles: ops (read),
// supervisor/admin (read + review). When everything is drawn, body[data-ready] is set and
// window.insightsRenderMs holds the time from the first request to the last chart.
(function () {
  "use strict";
  const $ = Staff.$;
  const el = Staff.el;
  const state = { me: null, charts: {} };
  const CHANNEL = { web: "网页", app: "App", wechat: "微信" };
  const REASON = { requested: "主动要求", fallback: "多次没听懂", clarify_rejected: "推荐都不是",
                   complaint: "投诉", fraud_dispute: "盗刷/争议" };
  const STATUS = { open: "待复核", accepted: "已采纳", dismissed: "已驳回" };
  const COLORS = ["#b4182d", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

  const session = Staff.session({
    tokenKey: "cardbot_ops_token",
    view: "app-view",
    start: start,
    loginRefused: function (body) {
      return ["ops", "supervisor", "admin"].indexOf(body.user.role) < 0 ? "该账号没有查看看板的权限。" : null;
    },
  });

  function canReview() { return state.me && (state.me.role === "supervisor" || state.me.role === "admin"); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function num(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits || 0); }
  // "YYYY-MM-DD HH:MM" in the browser's time zone (the API gives UTC with its offset)
  function localTime(v) {
    if (!v) return "—";
    const d = new Date(v);
    const two = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }
  function secs(v) { return v === null || v === undefined ? "—" : Math.round(v) + " 秒"; }

  // Without dates (first visit), the server picks the last DEFAULT_DAYS days in its own zone
  // (Beijing time): the browser's clock or zone must not shift "today" (issue 18 audit).
  const DEFAULT_DAYS = 30;

  function params() {
    const p = new URLSearchParams();
    if ($("f-from").value && $("f-to").value) {
      p.set("from", $("f-from").value);
      p.set("to", $("f-to").value);
    } else {
      p.set("days", String(DEFAULT_DAYS));
    }
    if ($("f-channel").value) p.set("channel", $("f-channel").value);
    if ($("f-tier").value) p.set("tier", $("f-tier").value);
    return p;
  }

  function initFilters() {
    const q = new URLSearchParams(location.search);
    $("f-from").value = q.get("from") || "";
    $("f-to").value = q.get("to") || "";
    $("f-channel").value = q.get("channel") || "";
    $("f-tier").value = q.get("tier") || "";
  }

  async function start() {
    try {
      const resp = await fetch("/api/v1/auth/me", { headers: { Authorization: "Bearer " + session.token() } });
      if (!resp.ok) { session.logout(); return; }
      state.me = await resp.json();
    } catch (e) { session.showLogin(); return; }
    session.showApp();
    $("me").textContent = (state.me.display_name || state.me.username) + " · " +
      ({ ops: "运营（只读）", supervisor: "主管", admin: "管理员" }[state.me.role] || state.me.role);
    $("review-hint").textContent = canReview() ? "采纳或驳回，并填写说明" : "只读：复核需主管权限";
    await load();
  }

  async function load() {
    const seq = state.seq = (state.seq || 0) + 1;  // only the latest request renders
    document.body.removeAttribute("data-ready");
    $("filter-error").textContent = "";
    const t0 = performance.now();
    const p = params();
    const q = "?" + p.toString();
    let summary, series, breakdowns, flags;
    try {
      [summary, series, breakdowns, flags] = await Promise.all([
        session.api("/api/v1/insights/summary" + q),
        session.api("/api/v1/insights/series" + q),
        session.api("/api/v1/insights/breakdowns" + q),
        session.api("/api/v1/quality/flags?status=open&limit=50"),
      ]);
    } catch (e) { if (seq === state.seq) $("filter-error").textContent = e.message; return; }
    if (seq !== state.seq) return;
    history.replaceState(null, "", "/ops/insights" + q);
    $("f-from").value = summary.from;  // the range the server used (its days)
    $("f-to").value = summary.to;
    $("empty").hidden = summary.conversations > 0 || summary.handoffs > 0 || summary.nps_responses > 0;
    renderKpis(summary);
    renderCharts(series, breakdowns);
    renderAgents(breakdowns.agents);
    renderEntries(breakdowns.top_entries);
    renderReview(flags.items);
    window.insightsRenderMs = performance.now() - t0;
    document.body.setAttribute("data-ready", "1");
    loadUnanswered(summary.from, summary.to);  // needs the KB index; drawn when it answers
  }

  function kpi(box, key, label, value, sub) {
    const card = el("div", "kpi");
    card.dataset.metric = key;
    card.appendChild(el("div", "label", label));
    const v = el("div", "value", value);
    v.id = "kpi-" + key;
    card.appendChild(v);
    if (sub) card.appendChild(el("div", "sub", sub));
    box.appendChild(card);
  }

  function renderKpis(s) {
    const box = clear($("kpis"));
    kpi(box, "conversations", "会话数", num(s.conversations), "机器人回复 " + num(s.bot_turns) + " 轮");
    kpi(box, "resolution_rate", "机器人解决率", pct(s.resolution_rate), "有回答且未转人工、未点没帮助");
    kpi(box, "clarify_rate", "澄清率", pct(s.clarify_rate), "按机器人轮次");
    kpi(box, "fallback_rate", "兜底率", pct(s.fallback_rate), "按机器人轮次");
    kpi(box, "handoff_rate", "转人工率", pct(s.handoff_rate), "转人工 " + num(s.handoffs) + " 次");
    kpi(box, "queue_wait_p50_seconds", "排队等待 P50", secs(s.queue_wait_p50_seconds),
        "P90 " + secs(s.queue_wait_p90_seconds));
    kpi(box, "helped_within_5min_rate", "5 分钟内接入", pct(s.helped_within_5min_rate), "占全部转人工");
    kpi(box, "abandonment_rate", "放弃排队率", pct(s.abandonment_rate), "接入前取消");
    kpi(box, "agent_handle_seconds", "平均处理时长", secs(s.agent_handle_seconds), "接入到解决");
    kpi(box, "csat", "满意度 CSAT", num(s.csat, 2), num(s.csat_responses) + " 份评价（1-5 分）");
    kpi(box, "nps", "NPS", num(s.nps, 1), num(s.nps_responses) + " 份回复（推荐 " +
        num(s.nps_promoters) + " / 贬损 " + num(s.nps_detractors) + "）");
  }

  function chart(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false },
                                   config.options || {});
    state.charts[id] = new Chart($(id), config);
  }

  function days(items) {
    const out = [];
    items.forEach(function (r) { if (out.indexOf(r.day) < 0) out.push(r.day); });
    return out.sort();
  }

  function renderCharts(series, b) {
    const labels = days(series.conversations);
    const channels = [];
    series.conversations.forEach(function (r) { if (channels.indexOf(r.channel) < 0) channels.push(r.channel); });
    chart("chart-conversations", { type: "bar", data: { labels: labels, datasets: channels.map(function (c, i) {
      return { label: CHANNEL[c] || c, backgroundColor: COLORS[i % COLORS.length],
               data: labels.map(function (d) {
                 const row = series.conversations.find(function (r) { return r.day === d && r.channel === c; });
                 return row ? row.conversations : 0; }) };
    }) }, options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });

    const rl = series.rates.map(function (r) { return r.day; });
    const line = function (key, label, color) {
      return { label: label, borderColor: color, backgroundColor: color, tension: 0.2,
               data: series.rates.map(function (r) { return r[key] === null ? null : r[key] * 100; }) };
    };
    chart("chart-rates", { type: "line", data: { labels: rl, datasets: [
      line("resolution_rate", "解决率 %", COLORS[2]), line("handoff_rate", "转人工率 %", COLORS[0]),
      line("clarify_rate", "澄清率 %", COLORS[3]), line("fallback_rate", "兜底率 %", COLORS[4])] },
      options: { scales: { y: { min: 0, max: 100 } } } });

    const nl = series.nps.map(function (r) { return r.day; });
    chart("chart-nps", { data: { labels: nl, datasets: [
      { type: "line", label: "NPS", yAxisID: "y", borderColor: COLORS[0], backgroundColor: COLORS[0],
        data: series.nps.map(function (r) { return r.nps; }) },
      { type: "bar", label: "回复数", yAxisID: "y1", backgroundColor: "rgba(37,99,235,.25)",
        data: series.nps.map(function (r) { return r.responses; }) }] },
      options: { scales: { y: { min: -100, max: 100 }, y1: { position: "right", beginAtZero: true,
                                                             grid: { drawOnChartArea: false } } } } });

    chart("chart-csat", { type: "bar", data: { labels: b.csat_distribution.map(function (r) { return r.score + " 分"; }),
      datasets: [{ label: "评价数", backgroundColor: COLORS[1],
                   data: b.csat_distribution.map(function (r) { return r.count; }) }] },
      options: { scales: { y: { beginAtZero: true } } } });

    chart("chart-reasons", { type: "doughnut", data: {
      labels: b.handoff_reasons.map(function (r) { return REASON[r.reason] || r.reason; }),
      datasets: [{ data: b.handoff_reasons.map(function (r) { return r.count; }), backgroundColor: COLORS }] } });
    table($("reasons-table"), ["原因", "次数"], b.handoff_reasons.map(function (r) {
      return [REASON[r.reason] || r.reason, String(r.count)]; }), "reason");
  }

  function table(node, head, rows, key) {
    clear(node);
    const tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    node.appendChild(tr);
    if (!rows.length) {
      const r = el("tr"); const td = el("td", "muted", "暂无数据"); td.colSpan = head.length;
      r.appendChild(td); node.appendChild(r); return;
    }
    rows.forEach(function (cells) {
      const r = el("tr");
      if (key) r.dataset.row = key;
      cells.forEach(function (c) { if (c instanceof Node) { const td = el("td"); td.appendChild(c); r.appendChild(td); }
                                   else r.appendChild(el("td", null, c)); });
      node.appendChild(r);
    });
  }

  function renderAgents(agents) {
    table($("agents-table"), ["工号", "坐席", "解决数", "平均处理时长", "CSAT", "评价数", "质检数", "有问题", "质检得分", "待复核"],
      agents.map(function (a) {
        return [a.agent_no || "—", a.display_name || a.username, num(a.resolved), secs(a.handle_seconds),
                num(a.csat, 2), num(a.csat_responses), num(a.inspected || 0), num(a.flagged || 0),
                a.quality_score === null || a.quality_score === undefined ? "—" : num(a.quality_score, 1),
                num(a.open_flags || 0)];
      }), "agent");
  }

  function renderEntries(entries) {
    table($("entries-table"), ["条目", "回答次数", "没帮助", "没帮助率"], entries.map(function (e) {
      const a = el("a", null, e.entry_id); a.href = "/ops";
      return [a, num(e.answers), num(e.thumbs_down), pct(e.thumbs_down_rate)];
    }), "entry");
  }

  async function loadUnanswered(from, to) {
    const node = $("unanswered-table");
    node.removeAttribute("data-done");
    const seq = state.seq;
    let data = null;
    let error = null;
    try {
      data = await session.api("/api/v1/kb/inbox?limit=5&from=" + encodeURIComponent(from) +
                               "&to=" + encodeURIComponent(to));
    } catch (e) { error = e; }
    if (seq !== state.seq) return;  // a newer range is loading
    if (error) {  // say so: an empty table would claim there is nothing unanswered
      clear(node);
      const r = el("tr"); const td = el("td", "error", "未解决问题暂时无法加载：" + error.message);
      td.dataset.error = "1";
      r.appendChild(td); node.appendChild(r);
    } else {
      table(node, ["代表问题", "次数", ""], data.items.map(function (g) {
        const a = el("a", null, "处理"); a.href = "/ops#inbox";
        return [g.representative, num(g.count), a];
      }), "cluster");
    }
    node.setAttribute("data-done", "1");
  }

  function renderReview(items) {
    const node = $("review-table");
    table(node, ["时间", "坐席", "规则", "引用消息", "状态", ""], items.map(function (f) {
      const rule = el("span", "sev-" + f.severity, f.rule_label);
      const actions = el("span");
      if (canReview() && f.status === "open") {
        const note = el("input"); note.placeholder = "复核说明"; note.className = "review-note";
        const ok = el("button", "small", "采纳"); ok.type = "button";
        const no = el("button", "small", "驳回"); no.type = "button";
        ok.addEventListener("click", function () { review(f.id, "accepted", note.value); });
        no.addEventListener("click", function () { review(f.id, "dismissed", note.value); });
        actions.appendChild(note); actions.appendChild(ok); actions.appendChild(no);
      }
      const who = f.agent ? (f.agent.agent_no || "") + " " + (f.agent.display_name || f.agent.username) : "—";
      return [localTime(f.created_at), who, rule, f.excerpt,
              STATUS[f.status] || f.status, actions];
    }), "flag");
  }

  async function review(id, decision, note) {
    try {
      await session.api("/api/v1/quality/flags/" + id + "/review", { method: "POST", json: { decision: decision, note: note } });
    } catch (e) { $("filter-error").textContent = e.message; return; }
    await load();
  }

  $("filters").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if ($("f-from").value > $("f-to").value) { $("filter-error").textContent = "开始日期不能晚于结束日期。"; return; }
    load();
  });
  ["f-channel", "f-tier"].forEach(function (id) { $(id).addEventListener("change", load); });
  $("export").addEventListener("click", async function () {
    const resp = await fetch("/api/v1/insights/export?" + params().toString(),
                             { headers: { Authorization: "Bearer " + session.token() } });
    if (!resp.ok) { $("filter-error").textContent = "导出失败"; return; }
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "insights-" + $("f-from").value + "-" + $("f-to").value + ".xlsx";
    document.body.appendChild(a); a.click(); a.remove();
  });

  initFilters();
  session.boot();
})();
