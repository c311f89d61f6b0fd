// Web chat widget: talks to POST /api/v1/chat and renders text, buttons, links and images.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  // The bank's app/H5 page passes the logged-in user id with the identity_hash its server
  // computed (?user_id=…&identity_hash=…). In development the demo page asks the API's
  // development-only signer for the README's demo cardholders. Anyone else is an anonymous
  // visitor: the server issues the id, the conversation_token continues the conversation.
  const userId = params.get("user_id") || "web-visitor";
  let identityHash = params.get("identity_hash");
  const identityToken = params.get("identity_token");
  const TOKEN_KEY = "cardbot_conversation_token:" + userId;
  let signing = null;
  if (params.get("user_id") && !identityHash && !identityToken) {
    signing = fetch("/api/v1/dev/identity?user_id=" + encodeURIComponent(userId))
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) { identityHash = b ? b.identity_hash : null; })
      .catch(function () { identityHash = null; });
  }

  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const typing = document.getElementById("typing");
  // The conversation's bearer credential lives for this browser tab only.
  const state = { conversationId: null, token: sessionStorage.getItem(TOKEN_KEY), busy: false };
  window.cardbotChat = state; // other scripts (live agent messages) share id and token

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    if (state.token) h.authorization = "Bearer " + state.token;
    return h;
  }
  state.authHeaders = authHeaders;

  // Only web links and images (never javascript: or data: URLs from a message).
  function safeUrl(url) {
    try {
      const u = new URL(url, location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (e) { return null; }
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function bubble(role, who) {
    const li = document.createElement("li");
    li.className = "msg " + role;
    const b = document.createElement("div");
    b.className = "bubble";
    if (who) {
      const w = document.createElement("div");
      w.className = "who";
      w.textContent = who;
      b.appendChild(w);
    }
    li.appendChild(b);
    list.appendChild(li);
    return b;
  }

  function addText(role, text, who) {
    const b = bubble(role, who);
    b.appendChild(document.createTextNode(text));
    scrollDown();
    return b;
  }

  function renderMessage(m, role, who) {
    role = role || "bot";
    if (m.type === "image" && safeUrl(m.url)) {
      const b = bubble(role, who);
      const img = document.createElement("img");
      img.src = safeUrl(m.url);
      img.alt = m.text || "图片";
      b.appendChild(img);
    } else if (m.type === "link" && safeUrl(m.url)) {
      const b = bubble(role, who);
      const a = document.createElement("a");
      a.href = safeUrl(m.url);
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = m.text || m.url;
      b.appendChild(a);
    } else {
      const b = addText(role, m.text || "", who);
      if (m.type === "buttons" && Array.isArray(m.buttons)) {
        const row = document.createElement("div");
        row.className = "buttons";
        m.buttons.forEach(function (btn) {
          const el = document.createElement("button");
          el.type = "button";
          el.textContent = btn.title;
          el.addEventListener("click", function () { sendMessage(btn.payload, btn.title); });
          row.appendChild(el);
        });
        b.appendChild(row);
      }
    }
    scrollDown();
  }

  function addFeedback(eventId) {
    const items = list.querySelectorAll(".msg.bot");
    const last = items[items.length - 1];
    if (!last) return;
    const box = document.createElement("div");
    box.className = "feedback";
    box.appendChild(document.createTextNode("这个回答有帮助吗？"));
    [["有帮助", true], ["没帮助", false]].forEach(function (pair) {
      const el = document.createElement("button");
      el.type = "button";
      el.textContent = pair[0];
      el.addEventListener("click", function () {
        fetch("/api/v1/chat/" + encodeURIComponent(state.conversationId) + "/feedback", {
          method: "POST",
          headers: authHeaders({ "content-type": "application/json" }),
          body: JSON.stringify({ kb_event_id: eventId, helpful: pair[1] }),
        }).then(function (r) {
          if (r.ok) {
            box.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
            el.classList.add("chosen");
          }
        });
      });
      box.appendChild(el);
    });
    last.querySelector(".bubble").appendChild(box);
  }

  function errorText(body) {
    const d = body && body.detail;
    if (d && typeof d === "object" && d.message) return d.message;
    return "抱歉，消息发送失败，请稍后再试。";
  }

  async function sendMessage(text, shown) {
    text = (text || "").trim();
    if (!text || state.busy) return;
    state.busy = true;
    send.disabled = true;
    addText("user", shown || text);
    typing.hidden = false;
    try {
      if (signing) await signing;
      const payload = { user_id: userId, text: text, channel: "web" };
      if (identityHash) payload.identity_hash = identityHash;
      if (identityToken) payload.identity_token = identityToken;
      const resp = await fetch("/api/v1/chat", {
        method: "POST",
        headers: authHeaders({ "content-type": "application/json" }),
        body: JSON.stringify(payload),
      });
      const body = await resp.json().catch(function () { return null; });
      if (!resp.ok) {
        addText("system", errorText(body));
        return;
      }
      state.conversationId = body.conversation_id;
      if (body.conversation_token) {
        state.token = body.conversation_token;
        sessionStorage.setItem(TOKEN_KEY, state.token);
      }
      document.dispatchEvent(new CustomEvent("cardbot:reply", { detail: body }));
      (body.messages || []).forEach(function (m) { renderMessage(m, "bot"); });
      if (body.outcome === "answered" && body.details && body.details.kb_event_id) {
        addFeedback(body.details.kb_event_id);
      }
    } catch (e) {
      addText("system", "网络异常，请检查网络后重试。");
    } finally {
      typing.hidden = true;
      state.busy = false;
      send.disabled = false;
      input.focus();
    }
  }

  window.cardbotRender = renderMessage;
  window.cardbotSend = sendMessage; // (payload, shown title): e.g. the header "转人工" button
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const text = input.value;
    input.value = "";
    sendMessage(text);
  });
  addText("bot", "您好，我是本行信用卡智能客服小卡。您可以问我账单、还款、分期、额度、积分、挂失等问题，也可以说“转人工”。");
})();
