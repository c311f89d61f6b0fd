// Agent console: login, online/away, live queue, accept, transcript with the bot's KB use,
// KB suggestions, canned replies, live messages (WebSocket), transfer, resolve, tickets.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const $ = Staff.$;
  const el = Staff.el;
  const desk = { me: null, current: null, detail: null, tab: "queue", ws: null, retries: 0,
                 seen: new Set(), timer: null };
  const SENDER = { user: "客户", bot: "小卡（智能客服）", system: "系统" };
  const STATE = { bot: "机器人服务中", queued: "排队中", assigned: "人工服务中",
                  resolved: "待评价", ticket: "留言中" };
  const REASON = { requested: "主动转人工", complaint: "投诉", fraud_dispute: "盗刷/争议",
                   clarify_rejected: "推荐都不是", fallback: "多次未识别" };
  const CHANNEL = { web: "网页", app: "App", wechat: "微信" };
  const PAYLOAD = { "/request_human": "转人工", "/none_of_these": "都不是",
                    "/cancel_queue": "取消排队", "/survey_skip": "不用了" };

  function waited(seconds) {
    seconds = Math.max(0, seconds | 0);
    const m = Math.floor(seconds / 60);
    return m ? m + " 分 " + (seconds % 60) + " 秒" : seconds + " 秒";
  }

  function tierTag(tier, label) { return el("span", "tag " + (tier || ""), label || tier); }
  // The VIP's own secretary (安心秘书): "您的专属客户" for me; another agent's while offered.
  function secretaryTag(parent, preferred, offeredUntil) {
    if (!preferred || !desk.me) return;
    if (preferred === desk.me.username) {
      parent.appendChild(el("span", "tag own", "您的专属客户"));
    } else if (offeredUntil) {
      parent.appendChild(el("span", "tag other-own", "专属客服 " + preferred + " 优先接入中"));
    }
  }

  // Supervisors: see, set and clear cardholders' secretaries.
  async function loadSecretaries() {
    const box = $("secretaries");
    if (!box || !desk.me || ["supervisor", "admin"].indexOf(desk.me.role) < 0) return;
    $("secretary-panel").hidden = false;
    const rows = await api("/api/v1/agent/secretaries");
    box.textContent = "";
    if (!rows.length) box.appendChild(el("li", "muted", "暂无专属客服分配"));
    rows.forEach(function (r) {
      const li = el("li", null, r.user_id + " → " + (r.agent_name || r.agent) + "（" +
        (r.source === "supervisor" ? "主管指定" : "最近服务") + "） ");
      const clearBtn = el("button", "link", "清除");
      clearBtn.type = "button";
      clearBtn.addEventListener("click", async function () {
        await api("/api/v1/agent/secretaries/" + encodeURIComponent(r.user_id), { method: "DELETE" });
        loadSecretaries();
      });
      li.appendChild(clearBtn);
      box.appendChild(li);
    });
  }

  // ---------------------------------------------------------------- login / logout

  const session = Staff.session({
    tokenKey: "cardbot_agent_token",
    view: "desk-view",
    start: start,
    onLogout: function () {
      if (desk.ws) { desk.ws.onclose = null; desk.ws.close(); desk.ws = null; }
      if (desk.timer) { clearInterval(desk.timer); desk.timer = null; }
    },
  });
  const token = session.token;
  const api = session.api;
  const logout = session.logout;
  const showLogin = session.showLogin;

  // ---------------------------------------------------------------- desk

  async function start() {
    try {
      desk.me = await api("/api/v1/agent/me");
    } catch (e) {
      $("login-error").textContent = e.message;
      return showLogin();
    }
    session.showApp();
    renderMe();
    loadSecretaries().catch(function () {});
    const form = $("secretary-form");
    if (form && !form.dataset.bound) {
      form.dataset.bound = "1";
      form.addEventListener("submit", async function (ev) {
        ev.preventDefault();
        $("secretary-error").textContent = "";
        try {
          await api("/api/v1/agent/secretaries/" + encodeURIComponent($("sec-user").value.trim()),
                    { method: "PUT", json: { agent: $("sec-agent").value.trim() } });
          form.reset();
          loadSecretaries();
        } catch (e) { $("secretary-error").textContent = e.message; }
      });
    }
    loadCanned();
    refreshLists();
    connect();
    if (!desk.timer) desk.timer = setInterval(refreshLists, REFRESH_MS);
  }

  function renderMe() {
    const me = desk.me;
    $("me").textContent = me.display_name + (me.agent_no ? "（工号 " + me.agent_no + "）" : "");
    // supervisors review quality flags on the insights dashboard
    $("quality-link").hidden = !(me.role === "supervisor" || me.role === "admin");
    document.querySelectorAll(".status-switch button").forEach(function (b) {
      b.classList.toggle("on", b.dataset.status === me.status);
    });
  }

  document.querySelectorAll(".status-switch button").forEach(function (b) {
    b.addEventListener("click", async function () {
      try {
        desk.me = await api("/api/v1/agent/status", { method: "POST",
                                                      json: { status: b.dataset.status } });
        renderMe();
      } catch (e) { alert(e.message); }
    });
  });

  document.querySelectorAll(".tab").forEach(function (t) {
    t.addEventListener("click", function () {
      desk.tab = t.dataset.tab;
      document.querySelectorAll(".tab").forEach(function (x) { x.classList.toggle("active", x === t); });
      ["queue", "mine", "tickets"].forEach(function (n) { $("list-" + n).hidden = n !== desk.tab; });
    });
  });

  async function refreshLists() {
    if (!token()) return;
    try {
      const [queue, mine, tickets] = await Promise.all([
        api("/api/v1/agent/queue"), api("/api/v1/agent/conversations"),
        api("/api/v1/agent/tickets?status=open")]);
      renderQueue(queue.items);
      renderMine(mine.items);
      renderTickets(tickets);
    } catch (e) { /* shown on the next action; the timer retries */ }
  }

  function renderQueue(items) {
    const list = $("list-queue");
    list.textContent = "";
    $("queue-count").textContent = items.length;
    if (!items.length) list.appendChild(el("li", "item muted", "暂无排队客户"));
    items.forEach(function (q) {
      const li = el("li", "item" + (q.conversation_id === desk.current ? " selected" : ""));
      li.dataset.conversationId = q.conversation_id;
      const row = el("div", "row");
      const left = el("div");
      left.appendChild(el("span", "user", q.user_id + " "));
      left.appendChild(tierTag(q.tier, q.tier_label));
      if (q.priority) left.appendChild(el("span", "tag prio", "优先"));
      secretaryTag(left, q.preferred_agent, q.offered_until);
      row.appendChild(left);
      const btn = el("button", "accept primary", "接入");
      btn.type = "button";
      btn.addEventListener("click", function (ev) { ev.stopPropagation(); accept(q.conversation_id); });
      row.appendChild(btn);
      li.appendChild(row);
      li.appendChild(el("div", "last", q.last_message || "（暂无留言）"));
      li.appendChild(el("div", "meta", "第 " + q.position + " 位 · 已等待 " +
        waited(q.waiting_seconds) + " · " + q.group_label + " · " + (REASON[q.reason] || q.reason) +
        " · " + (CHANNEL[q.channel] || q.channel)));
      li.addEventListener("click", function () { openConversation(q.conversation_id); });
      list.appendChild(li);
    });
  }

  function renderMine(items) {
    const list = $("list-mine");
    list.textContent = "";
    $("mine-count").textContent = items.length;
    if (!items.length) list.appendChild(el("li", "item muted", "当前没有接待中的会话"));
    items.forEach(function (c) {
      const li = el("li", "item" + (c.conversation_id === desk.current ? " selected" : ""));
      li.dataset.conversationId = c.conversation_id;
      const row = el("div", "row");
      const left = el("div");
      left.appendChild(el("span", "user", c.user_id + " "));
      left.appendChild(tierTag(c.tier, c.tier_label));
      secretaryTag(left, c.preferred_agent, null);
      row.appendChild(left);
      li.appendChild(row);
      li.appendChild(el("div", "last", c.last_message || ""));
      li.addEventListener("click", function () { openConversation(c.conversation_id); });
      list.appendChild(li);
    });
  }

  function renderTickets(items) {
    const list = $("list-tickets");
    list.textContent = "";
    $("tickets-count").textContent = items.length;
    if (!items.length) list.appendChild(el("li", "item muted", "暂无待处理留言"));
    items.forEach(function (t) {
      const li = el("li", "item");
      const row = el("div", "row");
      const left = el("div");
      left.appendChild(el("span", "user", t.number + " "));
      left.appendChild(tierTag(t.tier, t.tier_label));
      if (t.priority) left.appendChild(el("span", "tag prio", "优先"));
      row.appendChild(left);
      const btn = el("button", "accept", "已回电");
      btn.type = "button";
      btn.addEventListener("click", async function (ev) {
        ev.stopPropagation();
        try { await api("/api/v1/agent/tickets/" + t.id + "/close", { method: "POST", json: {} }); }
        catch (e) { alert(e.message); }
        refreshLists();
      });
      row.appendChild(btn);
      li.appendChild(row);
      li.appendChild(el("div", "last", t.message || ""));
      li.appendChild(el("div", "meta", "回电：" + (t.callback_number || "—") + " · " + t.user_id +
        " · " + (t.cause === "timeout" ? "排队超时" : "非工作时间")));
      li.addEventListener("click", function () { openConversation(t.conversation_id); });
      list.appendChild(li);
    });
  }

  // ---------------------------------------------------------------- conversation

  async function accept(id) {
    $("conv-error").textContent = "";
    try {
      await api("/api/v1/agent/conversations/" + encodeURIComponent(id) + "/accept",
                { method: "POST" });
      await openConversation(id);
    } catch (e) {
      await openConversation(id);
      $("conv-error").textContent = e.message;
    }
    refreshLists();
  }

  function line(m) {
    const who = m.sender === "agent"
      ? "人工客服 " + ((m.agent && m.agent.agent_no) || "") + " 号"
      : SENDER[m.sender] || m.sender;
    const li = el("li", "line " + m.sender);
    li.dataset.id = m.id;
    if (m.sender !== "system") li.appendChild(el("div", "who", who));
    let shown = m.text || (m.url ? m.url : "");
    if (m.sender === "user" && shown.charAt(0) === "/") {
      const score = /^\/survey\{"score":\s*(\d)\}$/.exec(shown);
      // a button payload, not typed text
      shown = "（点击按钮）" + (score ? "评分 " + score[1] + " 分" : PAYLOAD[shown] || shown);
    }
    li.appendChild(el("div", "bubble", shown));
    if (m.buttons && m.buttons.length) {
      li.appendChild(el("div", "btns", "按钮：" + m.buttons.map(function (b) { return b.title; }).join(" / ")));
    }
    if (m.kb) {
      let info;
      if (m.kb.entry_id) {
        info = "知识库 " + m.kb.entry_id + " · 置信度 " +
          (typeof m.kb.score === "number" ? m.kb.score.toFixed(2) : "—");
      } else if (m.kb.candidates && m.kb.candidates.length) {
        info = "候选 " + m.kb.candidates.map(function (c) {
          return c.entry_id + "(" + (typeof c.score === "number" ? c.score.toFixed(2) : "—") + ")";
        }).join("、");
      } else {
        info = "未命中知识库" + (typeof m.kb.score === "number" ? "（最高分 " + m.kb.score.toFixed(2) + "）" : "");
      }
      li.appendChild(el("div", "kb", info + " · " + m.kb.outcome));
    }
    return li;
  }

  function appendLine(m) {
    if (desk.seen.has(m.id)) return;
    desk.seen.add(m.id);
    $("transcript").appendChild(line(m));
    $("transcript").scrollTop = $("transcript").scrollHeight;
  }

  function renderProfile(p, d) {
    const box = $("profile");
    box.textContent = "";
    const dl = el("dl");
    function row(k, v) { dl.appendChild(el("dt", null, k)); const dd = el("dd"); if (v instanceof Node) dd.appendChild(v); else dd.textContent = v; dl.appendChild(dd); }
    row("用户", d.user_id);
    row("姓名", p.name || "—");
    row("卡等级", tierTag(p.tier, p.tier_label));
    row("渠道", CHANNEL[d.channel] || d.channel);
    if (d.handoff) {
      row("转人工", REASON[d.handoff.reason] || d.handoff.reason);
      row("技能组", d.handoff.group_label);
    }
    const cards = el("div");
    (p.cards || []).forEach(function (c) {
      const card = el("div", "card", c.number);
      card.appendChild(el("div", "muted", c.tier_label + " · " + c.status_label));
      cards.appendChild(card);
    });
    if (!(p.cards || []).length) cards.textContent = p.known ? "—" : "非本行注册用户";
    row("卡片", cards);
    box.appendChild(dl);
  }

  async function loadSuggestions(id) {
    const list = $("suggestions");
    try {
      const body = await api("/api/v1/agent/conversations/" + encodeURIComponent(id) + "/suggestions");
      if (id !== desk.current) return;
      list.textContent = "";
      if (!body.available) { list.appendChild(el("li", "muted", "知识库暂不可用")); return; }
      if (!body.suggestions.length) { list.appendChild(el("li", "muted", "暂无推荐")); return; }
      body.suggestions.forEach(function (s) {
        const li = el("li", "suggestion");
        li.appendChild(el("div", "q", s.question));
        li.appendChild(el("div", "a", s.answer));
        li.appendChild(el("div", "s", s.entry_id + (typeof s.score === "number" ? " · " + s.score.toFixed(2) : "")));
        li.title = "点击插入回复框";
        li.addEventListener("click", function () { insertReply(s.answer); });
        list.appendChild(li);
      });
    } catch (e) {
      list.textContent = "";
      list.appendChild(el("li", "muted", e.message));
    }
  }

  function insertReply(text) {
    const box = $("reply-text");
    const start = box.selectionStart || box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(box.selectionEnd || start);
    box.focus();
  }

  async function loadCanned() {
    try {
      const body = await api("/api/v1/agent/canned-replies");
      const box = $("canned");
      box.textContent = "";
      body.items.forEach(function (c) {
        const b = el("button", null, c.title);
        b.type = "button";
        b.title = c.text;
        b.addEventListener("click", function () { insertReply(c.text); });
        box.appendChild(b);
      });
    } catch (e) { /* canned replies are optional */ }
  }

  function mineNow(d) {
    return d.state === "assigned" && d.agent && desk.me && d.agent.id === desk.me.id;
  }

  function renderActions(d) {
    const mine = mineNow(d) || (d.state === "assigned" && desk.me &&
                                ["supervisor", "admin"].indexOf(desk.me.role) >= 0);
    $("accept-btn").hidden = d.state !== "queued";
    $("transfer-btn").disabled = !mine;
    $("transfer-group").disabled = !mine;
    $("resolve-btn").disabled = !mine;
    $("send-btn").disabled = !mine;
    $("reply-text").disabled = !mine;
    $("reply-text").placeholder = mine ? "输入回复，Enter 发送，Shift+Enter 换行"
                                       : "接入会话后才能回复";
    $("conv-state").textContent = STATE[d.state] || d.state;
  }

  async function openConversation(id) {
    let d;
    try {
      d = await api("/api/v1/agent/conversations/" + encodeURIComponent(id));
    } catch (e) { $("conv-error").textContent = e.message; return; }
    const switched = desk.current !== id;
    desk.current = id;
    desk.detail = d;
    $("empty").hidden = true;
    $("conv").hidden = false;
    if (switched) $("conv-error").textContent = "";
    $("conv-title").textContent = d.user_id + " · " + (d.profile.tier_label || "");
    $("transcript").textContent = "";
    desk.seen = new Set();
    d.messages.forEach(appendLine);
    renderProfile(d.profile, d);
    renderActions(d);
    document.querySelectorAll(".item").forEach(function (li) {
      li.classList.toggle("selected", li.dataset.conversationId === id);
    });
    loadSuggestions(id);
  }

  $("accept-btn").addEventListener("click", function () { if (desk.current) accept(desk.current); });

  $("resolve-btn").addEventListener("click", async function () {
    if (!desk.current || !confirm("确认结束本次人工服务？客户将收到满意度评价。")) return;
    try {
      await api("/api/v1/agent/conversations/" + encodeURIComponent(desk.current) + "/resolve",
                { method: "POST" });
      await openConversation(desk.current);
    } catch (e) { $("conv-error").textContent = e.message; }
    refreshLists();
  });

  $("transfer-btn").addEventListener("click", async function () {
    if (!desk.current) return;
    const group = $("transfer-group").value;
    try {
      await api("/api/v1/agent/conversations/" + encodeURIComponent(desk.current) + "/transfer",
                { method: "POST", json: { group: group } });
      await openConversation(desk.current);
    } catch (e) { $("conv-error").textContent = e.message; }
    refreshLists();
  });

  async function sendReply() {
    const box = $("reply-text");
    const text = box.value.trim();
    if (!text || !desk.current) return;
    $("send-btn").disabled = true;
    try {
      const m = await api("/api/v1/agent/conversations/" + encodeURIComponent(desk.current) +
                          "/messages", { method: "POST", json: { text: text } });
      box.value = "";
      appendLine(m);
      $("conv-error").textContent = "";
    } catch (e) {
      $("conv-error").textContent = e.message;
    } finally {
      $("send-btn").disabled = false;
      box.focus();
    }
  }

  $("reply-form").addEventListener("submit", function (ev) { ev.preventDefault(); sendReply(); });
  $("reply-text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendReply(); }
  });

  // ---------------------------------------------------------------- live events

  function onEvent(ev) {
    if (ev.type === "message") {
      if (ev.conversation_id === desk.current) {
        appendLine(ev.message);
        if (ev.message.sender === "user") loadSuggestions(desk.current);
      }
      if (ev.message.sender === "user") refreshLists();
    } else if (ev.type === "state") {
      if (ev.conversation_id === desk.current) openConversation(desk.current);
      refreshLists();
    } else if (ev.type === "queue" || ev.type === "tickets") {
      refreshLists();
    }
  }

  function connect() {
    if (desk.ws || !token()) return;
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/api/v1/agent/ws");
    desk.ws = ws;
    ws.onopen = function () { ws.send(JSON.stringify({ type: "auth", token: token() })); };
    ws.onmessage = function (e) {
      let ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev.type === "ready") { desk.retries = 0; $("live-dot").classList.add("up"); }
      else if (ev.type === "error") { $("live-dot").classList.remove("up"); }
      else onEvent(ev);
    };
    ws.onclose = function (e) {
      desk.ws = null;
      $("live-dot").classList.remove("up");
      if (e.code === 4401) { logout(); return; }
      if (!token()) return;
      desk.retries += 1;
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, desk.retries)));
    };
  }

  session.boot();
})();
