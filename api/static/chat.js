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

  // Page strings in both languages (issue 19). The conversation's language is kept by the
  // server (details.language of every reply); the header toggle switches it explicitly.
  const STRINGS = {
    zh: { title: "信用卡智能客服", status: "小卡 7×24 小时在线", typing: "小卡正在输入…",
          placeholder: "请输入您的问题，如：账单日可以改吗", send: "发送", toggle: "EN",
          toggleTitle: "Switch to English", helpful: "这个回答有帮助吗？", yes: "有帮助",
          no: "没帮助", failed: "抱歉，消息发送失败，请稍后再试。",
          offline: "网络异常，请检查网络后重试。", image: "图片", switchShown: "中文",
          inputLabel: "输入消息",
          greeting: "您好，我是本行信用卡智能客服小卡。您可以问我账单、还款、分期、额度、积分、挂失等问题，也可以说“转人工”。" },
    en: { title: "Credit Card Assistant", status: "Xiaoka, online 24/7", typing: "Xiaoka is typing…",
          placeholder: "Type your question, e.g. Can I change my statement date?", send: "Send",
          toggle: "中文", toggleTitle: "切换到中文", helpful: "Was this answer helpful?",
          yes: "Yes", no: "No", failed: "Sorry, the message could not be sent. Please try again later.",
          offline: "Network error, please check your connection and try again.", image: "image",
          switchShown: "English", inputLabel: "Type a message",
          greeting: "Hello, I'm Xiaoka, the credit-card assistant. Ask me about bills, repayment, instalments, limits, points or a lost card, or say \"agent\" to talk to a person." },
  };
  const i18n = {
    lang: localStorage.getItem("cardbot_lang") === "en" ? "en" : "zh",
    t: function (key) { return STRINGS[i18n.lang][key]; },
    listeners: [],
    set: function (lang) {
      lang = lang === "en" ? "en" : "zh";
      if (lang === i18n.lang) return;
      i18n.lang = lang;
      localStorage.setItem("cardbot_lang", lang);
      applyStrings();
      i18n.listeners.forEach(function (fn) { fn(lang); });
    },
  };
  window.cardbotI18n = i18n;

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
      img.alt = m.text || i18n.t("image");
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
    box.appendChild(document.createTextNode(i18n.t("helpful")));
    [[i18n.t("yes"), true], [i18n.t("no"), false]].forEach(function (pair) {
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
    if (d && typeof d === "object" && d.message) {
      return i18n.lang === "en" && d.message_en ? d.message_en : d.message;
    }
    return i18n.t("failed");
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
      if (body.details && body.details.language) i18n.set(body.details.language);
      document.dispatchEvent(new CustomEvent("cardbot:reply", { detail: body }));
      (body.messages || []).forEach(function (m) { renderMessage(m, "bot"); });
      if (body.outcome === "answered" && body.details && body.details.kb_event_id) {
        addFeedback(body.details.kb_event_id);
      }
    } catch (e) {
      addText("system", i18n.t("offline"));
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
  // The language toggle in the header: the server switches the conversation and confirms.
  // At the header's right edge; chat-live.css keeps 转人工 / 取消排队 to its left (they used to
  // cover the toggle, which could not be clicked).
  const header = document.querySelector(".chat-header");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "lang-toggle";
  toggle.className = "live-cancel";
  header.appendChild(toggle);
  toggle.addEventListener("click", function () {
    const target = i18n.lang === "en" ? "zh" : "en";
    sendMessage("/language_" + target, STRINGS[target].switchShown);
  });

  function applyStrings() {
    document.documentElement.lang = i18n.lang === "en" ? "en" : "zh-CN";
    // the page title and the screen-reader labels too, not only what is drawn
    document.title = i18n.t("title");
    document.querySelector("main.chat").setAttribute("aria-label", i18n.t("title"));
    input.setAttribute("aria-label", i18n.t("inputLabel"));
    document.querySelector(".chat-header .title").textContent = i18n.t("title");
    // the bot's status line (chat-live.js rewrites it while a person serves, after this)
    document.getElementById("status-line").textContent = i18n.t("status");
    typing.textContent = i18n.t("typing");
    input.placeholder = i18n.t("placeholder");
    send.textContent = i18n.t("send");
    toggle.textContent = i18n.t("toggle");
    toggle.title = i18n.t("toggleTitle");
  }
  applyStrings();
  addText("bot", i18n.t("greeting"));
})();
