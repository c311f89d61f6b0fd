// Web chat widget: talks to POST /api/v1/chat and renders text, buttons, links and images.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  // The app passes its logged-in user id; a plain web visitor gets a stable random id.
  let userId = params.get("user_id") || localStorage.getItem("cardbot_user_id");
  if (!userId) {
    userId = "web-" + Math.random().toString(36).slice(2, 12);
  }
  localStorage.setItem("cardbot_user_id", userId);

  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const typing = document.getElementById("typing");
  const state = { conversationId: null, busy: false };
  window.cardbotChat = state; // other scripts (live agent messages) share the conversation id

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
    if (m.type === "image" && m.url) {
      const b = bubble(role, who);
      const img = document.createElement("img");
      img.src = m.url;
      img.alt = m.text || "图片";
      b.appendChild(img);
    } else if (m.type === "link" && m.url) {
      const b = bubble(role, who);
      const a = document.createElement("a");
      a.href = m.url;
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
          headers: { "content-type": "application/json" },
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
      const resp = await fetch("/api/v1/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user_id: userId, text: text, channel: "web" }),
      });
      const body = await resp.json().catch(function () { return null; });
      if (!resp.ok) {
        addText("system", errorText(body));
        return;
      }
      state.conversationId = body.conversation_id;
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
