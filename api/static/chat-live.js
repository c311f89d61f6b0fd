// Live human handoff in the cardholder widget: queue position, agent messages over WebSocket
// (with a polling fallback), cancel waiting. Hooks into chat.js through window.cardbotChat,
// window.cardbotRender and the "cardbot:reply" event.
(function () {
  "use strict";
  const chat = window.cardbotChat;
  const render = window.cardbotRender;
  if (!chat || !render) return;

  const header = document.querySelector(".chat-header");
  const statusLine = document.getElementById("status-line");
  const i18n = window.cardbotI18n || { lang: "zh", listeners: [] };
  const TEXT = {
    zh: { cancel: "取消排队", human: "转人工", agent: function (no) { return "人工客服 " + no + " 号"; },
          anyAgent: "人工客服", queued: function (p, m) { return "排队中：第 " + p + " 位，预计等待约 " + m + " 分钟"; },
          connecting: "正在为您转接人工客服，请稍候…", serving: "为您服务",
          resolved: "人工服务已结束，请为本次服务评分", ticket: "人工客服暂时无法接通，请留言",
          status: "小卡 7×24 小时在线" },
    en: { cancel: "Stop waiting", human: "Agent", agent: function (no) { return "Agent no. " + no; },
          anyAgent: "An agent", queued: function (p, m) { return "In the queue: number " + p + ", about " + m + " min"; },
          connecting: "Connecting you to an agent, one moment…", serving: " is serving you",
          resolved: "The chat with the agent has ended, please rate it",
          ticket: "No agent is available right now, please leave a message",
          status: "Xiaoka, online 24/7" },
  };
  function tx(key) { return TEXT[i18n.lang === "en" ? "en" : "zh"][key]; }
  const cancelBtn = document.createElement("button");
  cancelBtn.type = "button";
  cancelBtn.id = "cancel-queue";
  cancelBtn.className = "live-cancel";
  cancelBtn.textContent = tx("cancel");
  cancelBtn.hidden = true;
  header.appendChild(cancelBtn);
  // Explicit request for a human, always at hand while the bot serves (same as typing 转人工).
  const humanBtn = document.createElement("button");
  humanBtn.type = "button";
  humanBtn.id = "request-human";
  humanBtn.className = "live-cancel";
  humanBtn.textContent = tx("human");
  header.appendChild(humanBtn);
  humanBtn.addEventListener("click", function () {
    if (window.cardbotSend) window.cardbotSend("/request_human", tx("human"));
  });

  let lastState = { state: "bot" };
  i18n.listeners.push(function () {
    cancelBtn.textContent = tx("cancel");
    humanBtn.textContent = tx("human");
    showState(lastState);
  });

  const HUMAN_OUTCOMES = ["handoff", "agent", "ticket", "survey"];
  const POLL_MS = 5000;
  const seen = new Set();
  let cursor = 0;
  let state = "bot";
  let ws = null;
  let wsFor = null;
  let retries = 0;
  let pollTimer = null;

  function base() { return "/api/v1/chat/" + encodeURIComponent(chat.conversationId); }

  function mark(id) {
    if (typeof id !== "number") return;
    seen.add(id);
    if (id > cursor) cursor = id;
  }

  function agentLabel(agent) {
    return agent ? tx("agent")(agent.agent_no || agent.id) : tx("anyAgent");
  }

  function show(m) {
    if (!m || m.sender === "user" || seen.has(m.id)) return;
    mark(m.id);
    if (m.sender === "agent") {
      render(m, "agent", agentLabel(m.agent));
    } else if (m.type === "buttons") {
      render(m, "bot");
    } else {
      render(m, m.sender === "system" ? "system" : "bot");
    }
  }

  function minutes(seconds) { return Math.max(1, Math.round((seconds || 0) / 60)); }

  function showState(s) {
    if (!s || !s.state) return;
    lastState = s;
    state = s.state;
    cancelBtn.hidden = state !== "queued";
    humanBtn.hidden = state !== "bot";
    header.classList.toggle("live-human", state !== "bot");
    if (state === "queued" && s.queue) {
      statusLine.textContent = tx("queued")(s.queue.position,
        minutes(s.queue.estimated_wait_seconds));
    } else if (state === "queued") {
      statusLine.textContent = tx("connecting");
    } else if (state === "assigned") {
      statusLine.textContent = agentLabel(s.agent) + tx("serving");
    } else if (state === "resolved") {
      statusLine.textContent = tx("resolved");
    } else if (state === "ticket") {
      statusLine.textContent = tx("ticket");
    } else {
      statusLine.textContent = tx("status");
    }
    if (state === "bot") stopLive(); else startLive();
  }

  function onEvent(ev) {
    if (ev.type === "message") show(ev.message);
    else if (ev.type === "state") showState(ev);
    else if (ev.type === "queue" && state === "queued") showState({ state: "queued", queue: ev.queue });
  }

  function connect() {
    if (!chat.conversationId || (ws && wsFor === chat.conversationId)) return;
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    wsFor = chat.conversationId;
    ws = new WebSocket(proto + location.host + base() + "/ws?after=" + cursor);
    ws.onopen = function () {
      retries = 0;
      // Browsers cannot set headers on a WebSocket: the credential is the first frame.
      ws.send(JSON.stringify({ type: "auth", token: chat.token }));
    };
    ws.onmessage = function (e) {
      try { onEvent(JSON.parse(e.data)); } catch (err) { /* ignore malformed frames */ }
    };
    ws.onclose = function () {
      ws = null;
      wsFor = null;
      if (state !== "bot") {
        retries += 1;
        setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
      }
    };
  }

  async function poll() {
    if (!chat.conversationId) return;
    try {
      const resp = await fetch(base() + "/messages?after=" + cursor,
                               { headers: chat.authHeaders() });
      if (!resp.ok) return;
      const body = await resp.json();
      (body.messages || []).forEach(show);
      showState(body);
    } catch (e) { /* offline: the next tick retries */ }
  }

  function startLive() {
    connect();
    if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
  }

  function stopLive() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    if (ws) { const old = ws; ws = null; wsFor = null; old.onclose = null; old.close(); }
  }

  cancelBtn.addEventListener("click", async function () {
    cancelBtn.disabled = true;
    try {
      const resp = await fetch(base() + "/cancel",
                               { method: "POST", headers: chat.authHeaders() });
      const body = await resp.json().catch(function () { return null; });
      if (resp.ok && body) {
        (body.messages || []).forEach(function (m) { show({ ...m, sender: "system" }); });
        showState({ state: "bot" });
      } else {
        poll();
      }
    } finally {
      cancelBtn.disabled = false;
    }
  });

  document.addEventListener("cardbot:reply", function (e) {
    const body = e.detail || {};
    (body.messages || []).forEach(function (m) { mark(m.id); });
    const details = body.details || {};
    if (HUMAN_OUTCOMES.indexOf(body.outcome) >= 0 || details.state) {
      showState({ state: details.state || "queued", queue: details.queue, agent: details.agent });
    } else {
      showState({ state: "bot" });
    }
  });
})();
