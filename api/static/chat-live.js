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
  const defaultStatus = statusLine.textContent;
  const cancelBtn = document.createElement("button");
  cancelBtn.type = "button";
  cancelBtn.id = "cancel-queue";
  cancelBtn.className = "live-cancel";
  cancelBtn.textContent = "取消排队";
  cancelBtn.hidden = true;
  header.appendChild(cancelBtn);
  // Explicit request for a human, always at hand while the bot serves (same as typing 转人工).
  const humanBtn = document.createElement("button");
  humanBtn.type = "button";
  humanBtn.id = "request-human";
  humanBtn.className = "live-cancel";
  humanBtn.textContent = "转人工";
  header.appendChild(humanBtn);
  humanBtn.addEventListener("click", function () {
    if (window.cardbotSend) window.cardbotSend("/request_human", "转人工");
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
    return agent ? "人工客服 " + (agent.agent_no || agent.id) + " 号" : "人工客服";
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
    state = s.state;
    cancelBtn.hidden = state !== "queued";
    humanBtn.hidden = state !== "bot";
    header.classList.toggle("live-human", state !== "bot");
    if (state === "queued" && s.queue) {
      statusLine.textContent = "排队中：第 " + s.queue.position + " 位，预计等待约 " +
        minutes(s.queue.estimated_wait_seconds) + " 分钟";
    } else if (state === "queued") {
      statusLine.textContent = "正在为您转接人工客服，请稍候…";
    } else if (state === "assigned") {
      statusLine.textContent = agentLabel(s.agent) + "为您服务";
    } else if (state === "resolved") {
      statusLine.textContent = "人工服务已结束，请为本次服务评分";
    } else if (state === "ticket") {
      statusLine.textContent = "人工客服暂时无法接通，请留言";
    } else {
      statusLine.textContent = defaultStatus;
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
