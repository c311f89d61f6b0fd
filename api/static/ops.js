// KB ops console: login, browse/search/filter, edit drafts with web + WeChat preview, conflict
// check, history, publish (supervisor), hit test, unanswered inbox, releases + rollback,
// per-entry stats, audit log, Excel/CSV import and export. Talks to /api/v1/kb/*.
(function () {
  "use strict";
  const API = "/api/v1/kb";
  const $ = Staff.$;
  const el = Staff.el;
  const state = { me: null, page: 1, pageSize: 50, total: 0, current: null, inboxPrefill: null,
                  addGroup: null, previewTimer: null, statusTimer: null };
  const STATUS = { draft: "草稿", published: "已上线", archived: "已下线" };
  const PENDING = { create: "新建待发布", update: "修改待发布", archive: "下线待发布",
                    restore: "恢复待发布" };
  const DECISION = { answer: "直接回答", clarify: "反问澄清", fallback: "兜底（没听懂）" };
  const KIND = { fallback: "没听懂", clarify_rejected: "推荐都不是", clarify: "反问后才找到",
                 low_confidence: "低置信回答", thumbs_down: "点了没帮助",
                 handoff_after_answer: "回答后转人工" };
  const SOURCE = { seed: "初始导入", publish: "发布", rollback: "回滚" };
  const ACTION = { create: "新建", update: "修改", archive: "下线", restore: "恢复", discard: "放弃草稿",
                   import: "导入", add_similar: "添加相似问", publish: "发布", rollback: "回滚",
                   inbox: "待处理问题" };
  const FIELD = { standard_question: "标准问", similar_questions: "相似问", category: "分类",
                  tags: "标签", channels: "渠道", valid_from: "生效日期", valid_to: "失效日期",
                  status: "状态", "answer.text": "答案正文", "answer.buttons": "按钮",
                  "answer.links": "链接", "answer.image": "图片", answer_en: "英文答案",
                  question_en: "英文标准问" };

  function canPublish() { return state.me && (state.me.role === "supervisor" || state.me.role === "admin"); }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const p = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function api(path, opts) { return session.api(API + path, opts); }

  function flash(text, bad) {
    const f = $("flash");
    f.textContent = text;
    f.className = "flash" + (bad ? " bad" : "");
    f.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { f.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------- login

  const session = Staff.session({
    tokenKey: "cardbot_ops_token",
    view: "app-view",
    start: start,
    loginRefused: function (body) {
      return ["ops", "supervisor", "admin"].indexOf(body.user.role) < 0 ? "该账号没有知识库运营权限。" : null;
    },
    onLogout: function () {
      if (state.statusTimer) { clearInterval(state.statusTimer); state.statusTimer = null; }
    },
  });
  const token = session.token;
  const logout = session.logout;
  const showLogin = session.showLogin;

  async function start() {
    try {
      const resp = await fetch("/api/v1/auth/me", { headers: { Authorization: "Bearer " + token() } });
      if (!resp.ok) { logout(); return; }
      state.me = await resp.json();
    } catch (e) { showLogin(); return; }
    session.showApp();
    $("me").textContent = (state.me.display_name || state.me.username) + " · " +
      ({ ops: "运营", supervisor: "主管", admin: "管理员" }[state.me.role] || state.me.role);
    $("publish-open").hidden = !canPublish();
    await Promise.all([loadFacets(), loadEntries(), refreshStatus()]);
    state.statusTimer = setInterval(refreshStatus, 5000);
    if (location.hash === "#inbox") showTab("inbox");  // linked from the insights dashboard
  }

  // ---------------------------------------------------------------- tabs & status

  document.querySelectorAll(".tab").forEach(function (btn) {
    btn.addEventListener("click", function () { showTab(btn.dataset.tab); });
  });

  function showTab(name) {
    document.querySelectorAll(".tab").forEach(function (b) {
      b.classList.toggle("active", b.dataset.tab === name);
    });
    document.querySelectorAll(".panel-tab").forEach(function (p) { p.hidden = p.id !== "pane-" + name; });
    if (name === "inbox") loadInbox();
    if (name === "releases") loadReleases();
    if (name === "stats") loadStats();
    if (name === "audit") loadAudit();
  }

  async function refreshStatus() {
    try {
      const s = await api("/status");
      const serving = s.serving_release;
      const info = $("release-info");
      info.textContent = "线上版本 #" + (s.live_release || "—") +
        (serving === s.live_release ? "（机器人已生效）" : "（机器人使用 #" + (serving || "—") + "，切换中…）");
      info.dataset.live = s.live_release || "";
      info.dataset.serving = serving || "";
      $("drafts-info").textContent = s.pending_drafts ? "待发布草稿 " + s.pending_drafts + " 条" : "没有待发布草稿";
      $("publish-open").disabled = !s.pending_drafts;
    } catch (e) { /* shown on the next action */ }
  }

  // ---------------------------------------------------------------- entry list

  async function loadFacets() {
    const f = await api("/facets");
    const fill = function (select, values, keepFirst) {
      const first = select.options[0];
      clear(select);
      if (keepFirst) select.appendChild(first);
      values.forEach(function (v) { const o = el("option", null, v); o.value = v; select.appendChild(o); });
    };
    fill($("f-filter-category"), f.categories, true);
    fill($("f-filter-tag"), f.tags, true);
    const dl = clear($("category-list"));
    f.categories.forEach(function (c) { const o = el("option"); o.value = c; dl.appendChild(o); });
  }

  let entriesSeq = 0;
  async function loadEntries() {
    const seq = ++entriesSeq;
    const params = new URLSearchParams();
    const q = $("q").value.trim();
    if (q) params.set("query", q);
    [["category", "f-filter-category"], ["tag", "f-filter-tag"], ["status", "f-filter-status"],
     ["channel", "f-filter-channel"]].forEach(function (pair) {
      if ($(pair[1]).value) params.set(pair[0], $(pair[1]).value);
    });
    if ($("f-filter-english").value === "missing") params.set("missing_english", "true");
    params.set("page", state.page);
    params.set("page_size", state.pageSize);
    const data = await api("/entries?" + params.toString());
    if (seq !== entriesSeq) return;  // a newer search owns the list
    state.total = data.total;
    const body = clear($("entry-rows"));
    data.items.forEach(function (item) {
      const tr = el("tr", "entry-row");
      tr.dataset.id = item.id;
      if (state.current && state.current.id === item.id) tr.classList.add("selected");
      tr.appendChild(el("td", "mono", item.id));
      tr.appendChild(el("td", null, item.standard_question));
      tr.appendChild(el("td", "muted", item.category));
      const st = el("td");
      st.appendChild(el("span", "status-tag " + item.status,
                        item.pending_action ? PENDING[item.pending_action] : STATUS[item.status]));
      tr.appendChild(st);
      tr.appendChild(el("td", "muted", item.updated_by ? item.updated_by + " " + when(item.updated_at) : ""));
      tr.addEventListener("click", function () { openEntry(item.id); });
      body.appendChild(tr);
    });
    const pages = Math.max(1, Math.ceil(data.total / state.pageSize));
    $("page-info").textContent = "第 " + state.page + " / " + pages + " 页";
    $("prev-page").disabled = state.page <= 1;
    $("next-page").disabled = state.page >= pages;
    $("list-meta").textContent = "共 " + data.total + " 条";
  }

  let searchTimer = null;
  $("q").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { state.page = 1; loadEntries(); }, 250);
  });
  ["f-filter-category", "f-filter-tag", "f-filter-status", "f-filter-channel",
   "f-filter-english"].forEach(function (id) {
    $(id).addEventListener("change", function () { state.page = 1; loadEntries(); });
  });
  $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); });
  $("prev-page").addEventListener("click", function () { state.page -= 1; loadEntries(); });
  $("next-page").addEventListener("click", function () { state.page += 1; loadEntries(); });

  // ---------------------------------------------------------------- editor

  // A button or link row: Chinese title, payload / URL, and the optional English title
  // (issue 19; empty: English cardholders see the target entry's or the intent's English).
  function pairRow(box, a, b, phA, phB, en, phEn) {
    const row = el("div", "pair");
    const ia = el("input"); ia.placeholder = phA; ia.value = a || ""; ia.className = "pair-a";
    const ib = el("input"); ib.placeholder = phB; ib.value = b || ""; ib.className = "pair-b";
    const ie = el("input"); ie.placeholder = phEn; ie.value = en || ""; ie.className = "pair-en";
    ie.lang = "en";
    const rm = el("button", "small", "删除"); rm.type = "button";
    rm.addEventListener("click", function () { row.remove(); schedulePreview(); });
    [ia, ib, ie].forEach(function (i) { i.addEventListener("input", schedulePreview); });
    row.appendChild(ia); row.appendChild(ib); row.appendChild(ie); row.appendChild(rm);
    box.appendChild(row);
  }
  const BUTTON_EN_HINT = "英文标题（可选，English title）";
  const LINK_EN_HINT = "英文标题（可选，English title）";

  $("add-button").addEventListener("click", function () {
    if ($("buttons-box").children.length >= 3) { flash("按钮最多 3 个", true); return; }
    pairRow($("buttons-box"), "", "", "按钮文字", "/request_human", "", BUTTON_EN_HINT);
  });
  $("add-link").addEventListener("click", function () {
    pairRow($("links-box"), "", "", "链接标题", "https://", "", LINK_EN_HINT);
  });

  function pairs(box, keyB) {
    const out = [];
    box.querySelectorAll(".pair").forEach(function (row) {
      const a = row.querySelector(".pair-a").value.trim();
      const b = row.querySelector(".pair-b").value.trim();
      const en = row.querySelector(".pair-en").value.trim();
      if (a || b) {
        const item = { title: a }; item[keyB] = b; item.title_en = en || null; out.push(item);
      }
    });
    return out;
  }

  function lines(text) {
    return text.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function formAnswer() {
    return { text: $("f-answer").value, buttons: pairs($("buttons-box"), "payload"),
             links: pairs($("links-box"), "url"), image: $("f-image").value.trim() || null };
  }

  function formChannels() {
    return ["web", "app", "wechat"].filter(function (c) { return $("f-ch-" + c).checked; });
  }

  function formBody() {
    return {
      standard_question: $("f-question").value.trim(),
      similar_questions: lines($("f-similar").value),
      answer: formAnswer(),
      answer_en: $("f-answer-en").value.trim() || null,
      question_en: $("f-question-en").value.trim() || null,
      category: $("f-category").value.trim(),
      tags: $("f-tags").value.split(/[,，、;；]/).map(function (s) { return s.trim(); }).filter(Boolean),
      channels: formChannels(),
      valid_from: $("f-valid-from").value || null,
      valid_to: $("f-valid-to").value || null,
      active: $("f-active").checked,
    };
  }

  function fillForm(e) {
    $("f-id").value = e ? e.id : "";
    $("f-id").readOnly = !!e;
    $("f-category").value = e ? e.category : "";
    $("f-question").value = e ? e.standard_question : "";
    $("f-similar").value = e ? e.similar_questions.join("\n") : "";
    $("f-answer").value = e ? e.answer.text : "";
    $("f-answer-en").value = (e && e.answer_en) || "";
    $("f-question-en").value = (e && e.question_en) || "";
    clear($("buttons-box"));
    clear($("links-box"));
    ((e && e.answer.buttons) || []).forEach(function (b) {
      pairRow($("buttons-box"), b.title, b.payload, "按钮文字", "/request_human", b.title_en,
              BUTTON_EN_HINT);
    });
    ((e && e.answer.links) || []).forEach(function (l) {
      pairRow($("links-box"), l.title, l.url, "链接标题", "https://", l.title_en, LINK_EN_HINT);
    });
    $("f-image").value = (e && e.answer.image) || "";
    $("f-tags").value = e ? e.tags.join("，") : "";
    ["web", "app", "wechat"].forEach(function (c) {
      $("f-ch-" + c).checked = e ? e.channels.indexOf(c) >= 0 : true;
    });
    $("f-valid-from").value = (e && e.valid_from) || "";
    $("f-valid-to").value = (e && e.valid_to) || "";
    $("f-active").checked = e ? e.active : true;
  }

  function showEditor(entry) {
    state.current = entry;
    $("editor").hidden = false;
    $("history").hidden = true;
    clear($("conflicts"));
    $("editor-error").textContent = "";
    fillForm(entry);
    $("editor-title").textContent = entry ? "编辑条目 " + entry.id : "新建条目";
    const st = $("editor-status");
    st.className = "status-tag " + (entry ? entry.status : "draft");
    st.textContent = entry ? (entry.pending_action ? PENDING[entry.pending_action] : STATUS[entry.status]) : "未保存";
    $("editor-rev").textContent = entry ? "修订号 " + entry.revision +
      (entry.updated_by ? " · " + entry.updated_by + " " + when(entry.updated_at) : "") : "";
    $("discard-btn").hidden = !(entry && entry.has_draft);
    $("archive-btn").hidden = !entry;
    $("archive-btn").textContent = entry && !entry.is_live ? "删除草稿" : "下线";
    $("history-btn").hidden = !entry;
    document.querySelectorAll(".entry-row").forEach(function (tr) {
      tr.classList.toggle("selected", !!entry && tr.dataset.id === entry.id);
    });
    schedulePreview();
  }

  async function openEntry(id) {
    try { showEditor(await api("/entries/" + encodeURIComponent(id))); }
    catch (e) { flash(e.message, true); }
  }

  $("new-entry").addEventListener("click", function () { state.inboxPrefill = null; showEditor(null); $("f-question").focus(); });
  $("close-editor").addEventListener("click", function () { $("editor").hidden = true; state.current = null; });

  function showProblems(err) {
    const d = err.body && err.body.detail;
    let text = err.message;
    if (err.status === 409 && d && d.code === "edit_conflict") {
      text += "（当前修订号 " + d.current_revision + "）";
    }
    $("editor-error").textContent = text;
  }

  $("entry-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    $("editor-error").textContent = "";
    const body = formBody();
    try {
      let saved;
      if (state.current) {
        body.revision = state.current.revision;
        saved = await api("/entries/" + encodeURIComponent(state.current.id), { method: "PATCH", json: body });
      } else {
        const id = $("f-id").value.trim();
        if (id) body.id = id;
        saved = await api("/entries", { method: "POST", json: body });
        if (state.inboxPrefill) {
          await api("/inbox/resolve", { method: "POST", json: {
            texts: state.inboxPrefill, resolution: "new_entry", entry_id: saved.id } });
          state.inboxPrefill = null;
        }
      }
      showEditor(saved);
      flash("已保存为草稿：" + saved.id + "（发布后机器人才会使用）");
      await Promise.all([loadEntries(), refreshStatus(), loadFacets()]);
      checkConflicts(true);
    } catch (e) { showProblems(e); }
  });

  async function checkConflicts(quiet) {
    const box = clear($("conflicts"));
    try {
      let data;
      if (state.current) {
        data = await api("/entries/" + encodeURIComponent(state.current.id) + "/conflicts");
      } else {
        const body = formBody();
        data = await api("/conflicts/check", { method: "POST", json: body });
      }
      if (!data.items.length) {
        if (!quiet) box.appendChild(el("li", "ok", "没有发现冲突：每个相似问都最接近本条目。"));
        return;
      }
      data.items.forEach(function (c) { box.appendChild(el("li", null, c.message)); });
    } catch (e) { if (!quiet) box.appendChild(el("li", null, e.message)); }
  }
  $("conflict-btn").addEventListener("click", function () { checkConflicts(false); });

  $("discard-btn").addEventListener("click", async function () {
    if (!state.current) return;
    try {
      const back = await api("/entries/" + encodeURIComponent(state.current.id) + "/discard",
                             { method: "POST", json: { revision: state.current.revision } });
      if (back) showEditor(back); else { $("editor").hidden = true; state.current = null; }
      flash("已放弃草稿");
      loadEntries(); refreshStatus();
    } catch (e) { showProblems(e); }
  });

  $("archive-btn").addEventListener("click", async function () {
    if (!state.current) return;
    try {
      const back = await api("/entries/" + encodeURIComponent(state.current.id) +
                             "?revision=" + state.current.revision, { method: "DELETE" });
      if (back) showEditor(back); else { $("editor").hidden = true; state.current = null; }
      flash(back ? "已下线（草稿，发布后生效）" : "已删除未发布的新条目");
      loadEntries(); refreshStatus();
    } catch (e) { showProblems(e); }
  });

  function diffList(changes) {
    const ul = el("ul", "diff");
    changes.forEach(function (c) {
      const label = FIELD[c.field] || c.field;
      const li = el("li");
      li.appendChild(el("b", null, label + "："));
      if (c.added || c.removed) {
        (c.added || []).forEach(function (x) { li.appendChild(el("ins", null, "+" + x)); });
        (c.removed || []).forEach(function (x) { li.appendChild(el("del", null, "−" + x)); });
      } else {
        const fmt = function (v) { return v === null || v === undefined ? "（空）" : (typeof v === "string" ? v : JSON.stringify(v)); };
        li.appendChild(el("del", null, fmt(c.before)));
        li.appendChild(document.createTextNode(" → "));
        li.appendChild(el("ins", null, fmt(c.after)));
      }
      ul.appendChild(li);
    });
    return ul;
  }

  $("history-btn").addEventListener("click", async function () {
    if (!state.current) return;
    const box = clear($("history"));
    box.hidden = false;
    try {
      const h = await api("/entries/" + encodeURIComponent(state.current.id) + "/history");
      box.appendChild(el("h3", null, "历史版本"));
      if (h.draft) {
        const d = el("div", "version draft");
        d.appendChild(el("div", "vhead", "草稿（修订号 " + h.draft.revision + "，" + (h.draft.updated_by || "") + " " + when(h.draft.updated_at) + "）"));
        d.appendChild(diffList(h.draft.changes));
        box.appendChild(d);
      }
      h.versions.forEach(function (v) {
        const d = el("div", "version");
        d.appendChild(el("div", "vhead", "版本 #" + v.release_from + (v.release_to ? " – #" + (v.release_to - 1) : "（线上）") +
          " · " + (SOURCE[v.source] || v.source || "") + " · " + (v.created_by || "系统") + " " + when(v.created_at)));
        d.appendChild(v.changes.length ? diffList(v.changes) : el("p", "muted", "首次发布"));
        box.appendChild(d);
      });
    } catch (e) { box.appendChild(el("p", "error", e.message)); }
  });

  // ---------------------------------------------------------------- preview

  function schedulePreview() {
    clearTimeout(state.previewTimer);
    state.previewTimer = setTimeout(renderPreview, 300);
  }
  ["f-answer", "f-image"].forEach(function (id) { $(id).addEventListener("input", schedulePreview); });
  ["f-ch-web", "f-ch-app", "f-ch-wechat"].forEach(function (id) { $(id).addEventListener("change", schedulePreview); });

  function bubble(text) {
    const b = el("div", "bubble");
    b.textContent = text;
    return b;
  }

  async function renderPreview() {
    const web = clear($("preview-web"));
    const wx = clear($("preview-wechat"));
    const notes = clear($("preview-notes"));
    const answer = formAnswer();
    if (!answer.text.trim()) { web.appendChild(el("p", "muted", "填写答案后显示预览")); return; }
    try {
      const p = await api("/preview", { method: "POST", json: { answer: answer, channels: formChannels() } });
      p.web.forEach(function (m) {
        if (m.type === "image") {
          const img = el("img", "bubble-img"); img.src = m.url; img.alt = "图片"; web.appendChild(img);
        } else if (m.type === "link") {
          const a = el("a", "bubble link", "↗ " + m.text); a.href = m.url; a.target = "_blank"; a.rel = "noopener"; web.appendChild(a);
        } else {
          const b = bubble(m.text);
          if (m.buttons) {
            const row = el("div", "buttons");
            m.buttons.forEach(function (btn) { row.appendChild(el("span", "chip", btn.title)); });
            b.appendChild(row);
          }
          web.appendChild(b);
        }
      });
      p.wechat.forEach(function (m) {
        if (m.kind === "news" && m.article) {
          const card = el("div", "bubble news");
          card.appendChild(el("b", null, m.article.title));
          card.appendChild(el("div", "muted", m.article.url));
          wx.appendChild(card);
        } else {
          // WeChat text may carry <a href> lines: show them as plain text links
          wx.appendChild(bubble(m.text.replace(/<a href="([^"]*)">([^<]*)<\/a>/g, "$2（$1）")));
        }
      });
      p.notes.forEach(function (n) { notes.appendChild(el("li", null, n)); });
    } catch (e) { notes.appendChild(el("li", "error", e.message)); }
  }

  // ---------------------------------------------------------------- publish

  $("publish-open").addEventListener("click", async function () {
    $("publish-error").textContent = "";
    $("publish-note").value = "";
    const conflicts = clear($("publish-conflicts"));
    $("publish-summary").textContent = "正在检查待发布的草稿…";
    $("publish-dialog").showModal();
    try {
      const s = await api("/status");
      $("publish-summary").textContent = "将把 " + s.pending_drafts + " 条草稿发布为新版本（当前线上 #" + s.live_release + "）。";
      const c = await api("/conflicts?scope=drafts");
      c.items.forEach(function (x) { conflicts.appendChild(el("li", null, x.message)); });
    } catch (e) { $("publish-error").textContent = e.message; }
  });
  $("publish-cancel").addEventListener("click", function () { $("publish-dialog").close(); });
  $("publish-confirm").addEventListener("click", async function () {
    $("publish-error").textContent = "";
    $("publish-confirm").disabled = true;
    try {
      const r = await api("/publish", { method: "POST", json: { note: $("publish-note").value.trim() || null } });
      $("publish-dialog").close();
      flash("已发布版本 #" + r.release + "：新建 " + r.created.length + "，修改 " + r.updated.length +
            "，下线 " + r.archived.length + (r.serving_release === r.release ? "，机器人已生效" : "，机器人几秒内生效"));
      await Promise.all([loadEntries(), refreshStatus()]);
      if (state.current) openEntry(state.current.id);
    } catch (e) { $("publish-error").textContent = e.message; }
    finally { $("publish-confirm").disabled = false; }
  });

  // ---------------------------------------------------------------- hit test

  function hitSide(box, side) {
    clear(box);
    const head = el("div", "decision " + side.decision);
    head.appendChild(el("b", null, side.would || DECISION[side.decision] || side.decision));
    box.appendChild(head);
    const t = el("table", "grid");
    const hr = el("tr");
    ["#", "条目", "标准问", "命中的问法", "分数"].forEach(function (h) { hr.appendChild(el("th", null, h)); });
    t.appendChild(hr);
    side.hits.forEach(function (h, i) {
      const tr = el("tr", "hit-row");
      tr.appendChild(el("td", null, String(i + 1)));
      tr.appendChild(el("td", "mono", h.entry_id));
      tr.appendChild(el("td", null, h.question));
      tr.appendChild(el("td", "muted", h.matched_question || ""));
      tr.appendChild(el("td", "mono score", h.score.toFixed(3)));
      tr.addEventListener("click", function () { showTab("entries"); openEntry(h.entry_id); });
      t.appendChild(tr);
    });
    box.appendChild(t);
    const fmt = function (v) { return typeof v === "number" ? v.toFixed(3) : "—"; };
    const th = side.thresholds || {};
    const conf = side.confidence || {};
    box.appendChild(el("p", "muted", (side.release ? "版本 #" + side.release + " · " : "草稿 · ") +
      "本句 P(首条正确)=" + fmt(conf.answer) + "（≥" + fmt(th.answer) + " 直接回答），" +
      "P(前三含正确)=" + fmt(conf.scope) + "（≥" + fmt(th.clarify) + " 反问澄清）"));
  }

  $("hit-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    $("ht-error").textContent = "";
    const q = $("ht-query").value.trim();
    if (!q) { $("ht-error").textContent = "请输入要测试的问题"; return; }
    $("ht-run").disabled = true;
    try {
      const r = await api("/hit-test", { method: "POST", json: {
        query: q, channel: $("ht-channel").value, top_k: parseInt($("ht-topk").value, 10) || 5 } });
      hitSide($("ht-draft"), r.draft);
      hitSide($("ht-live"), r.live);
    } catch (e) { $("ht-error").textContent = e.message; }
    finally { $("ht-run").disabled = false; }
  });

  // ---------------------------------------------------------------- inbox

  let inboxSeq = 0;
  async function loadInbox() {
    const seq = ++inboxSeq;
    $("inbox-error").textContent = "";
    $("inbox-meta").textContent = "正在分析…";
    try {
      const data = await api("/inbox?days=" + $("inbox-days").value);
      if (seq !== inboxSeq) return;
      const list = clear($("inbox-list"));
      $("inbox-meta").textContent = "共 " + data.total_questions + " 种问法，归为 " + data.items.length + " 组";
      if (!data.items.length) list.appendChild(el("li", "muted", "太好了，没有待处理的问题。"));
      data.items.forEach(function (g) {
        const li = el("li", "cluster");
        const head = el("div", "cluster-head");
        head.appendChild(el("span", "count", (g.users ? g.users + " 位用户 · " : "") + g.count + " 次"));
        head.appendChild(el("b", null, g.representative));
        Object.keys(g.kinds).forEach(function (k) { head.appendChild(el("span", "tag", (KIND[k] || k) + " " + g.kinds[k])); });
        li.appendChild(head);
        const ul = el("ul", "samples");
        g.samples.forEach(function (s) { ul.appendChild(el("li", null, s.text + (s.count > 1 ? "（" + s.count + "）" : ""))); });
        li.appendChild(ul);
        if (g.suggestion) {
          li.appendChild(el("div", "muted", "最接近：" + g.suggestion.entry_id + " " + g.suggestion.question +
                            "（" + g.suggestion.score.toFixed(3) + "）"));
        }
        const actions = el("div", "actions");
        const add = el("button", "primary", "添加为相似问"); add.type = "button";
        add.addEventListener("click", function () { openAdd(g); });
        const create = el("button", null, "新建条目"); create.type = "button";
        create.addEventListener("click", function () { newFromGroup(g); });
        const dismiss = el("button", null, "忽略"); dismiss.type = "button";
        dismiss.addEventListener("click", async function () {
          try {
            await api("/inbox/resolve", { method: "POST", json: { texts: g.texts, resolution: "dismissed" } });
            li.remove();
          } catch (e) { $("inbox-error").textContent = e.message; }
        });
        actions.appendChild(add); actions.appendChild(create); actions.appendChild(dismiss);
        li.appendChild(actions);
        list.appendChild(li);
      });
    } catch (e) { $("inbox-meta").textContent = ""; $("inbox-error").textContent = e.message; }
  }
  $("inbox-refresh").addEventListener("click", loadInbox);
  $("inbox-days").addEventListener("change", loadInbox);

  function openAdd(group) {
    state.addGroup = group;
    $("add-error").textContent = "";
    $("add-texts").textContent = group.texts.join(" / ");
    $("add-entry").value = group.suggestion ? group.suggestion.entry_id : "";
    $("add-dialog").showModal();
  }
  $("add-cancel").addEventListener("click", function () { $("add-dialog").close(); });
  $("add-confirm").addEventListener("click", async function () {
    const id = $("add-entry").value.trim();
    if (!id) { $("add-error").textContent = "请填写目标条目ID"; return; }
    try {
      const entry = await api("/entries/" + encodeURIComponent(id));
      const r = await api("/inbox/add-to-entry", { method: "POST", json: {
        entry_id: id, revision: entry.revision, texts: state.addGroup.texts } });
      $("add-dialog").close();
      flash("已向 " + id + " 添加 " + r.added.length + " 条相似问（草稿，发布后生效）");
      loadInbox(); refreshStatus();
    } catch (e) { $("add-error").textContent = e.message; }
  });

  function newFromGroup(group) {
    showTab("entries");
    showEditor(null);
    state.inboxPrefill = group.texts.slice();
    $("f-question").value = group.representative;
    $("f-similar").value = group.texts.filter(function (t) { return t !== group.representative; }).join("\n");
    $("f-question").focus();
  }

  // ---------------------------------------------------------------- releases

  let releasesSeq = 0;
  async function loadReleases() {
    const seq = ++releasesSeq;
    $("release-error").textContent = "";
    try {
      const data = await api("/releases");
      if (seq !== releasesSeq) return;
      const body = clear($("release-rows"));
      data.items.forEach(function (r) {
        const tr = el("tr", r.live ? "live" : "");
        tr.appendChild(el("td", "mono", "#" + r.number + (r.live ? " 线上" : "")));
        tr.appendChild(el("td", null, when(r.created_at)));
        tr.appendChild(el("td", null, SOURCE[r.source] || r.source));
        tr.appendChild(el("td", null, r.created_by || "系统"));
        tr.appendChild(el("td", null, String(r.entry_count)));
        tr.appendChild(el("td", "muted", r.note || ""));
        const td = el("td");
        const view = el("button", "small", "查看变更"); view.type = "button";
        view.addEventListener("click", function () { showRelease(r.number); });
        td.appendChild(view);
        if (canPublish() && !r.live) {
          const rb = el("button", "small danger", "回滚到此版本"); rb.type = "button";
          rb.dataset.release = r.number;
          rb.addEventListener("click", async function () {
            rb.disabled = true;
            try {
              const res = await api("/releases/" + r.number + "/rollback", { method: "POST", json: {} });
              flash("已回滚：新版本 #" + res.release + " 的内容等于版本 #" + r.number);
              loadReleases(); refreshStatus(); loadEntries();
            } catch (e) { $("release-error").textContent = e.message; rb.disabled = false; }
          });
          td.appendChild(rb);
        }
        tr.appendChild(td);
        body.appendChild(tr);
      });
    } catch (e) { $("release-error").textContent = e.message; }
  }

  async function showRelease(n) {
    const box = clear($("release-detail"));
    try {
      const d = await api("/releases/" + n);
      box.appendChild(el("h3", null, "版本 #" + n + " 的变更"));
      const sect = function (title, items, render) {
        if (!items.length) return;
        box.appendChild(el("h4", null, title + "（" + items.length + "）"));
        const ul = el("ul");
        items.forEach(function (x) { ul.appendChild(render(x)); });
        box.appendChild(ul);
      };
      sect("新增", d.added, function (x) { return el("li", null, x.entry_id + " " + x.question); });
      sect("移除", d.removed, function (x) { return el("li", null, x.entry_id + " " + x.question); });
      sect("修改", d.changed, function (x) {
        const li = el("li", null, x.entry_id + " " + x.question);
        li.appendChild(diffList(x.changes));
        return li;
      });
      if (!d.added.length && !d.removed.length && !d.changed.length) box.appendChild(el("p", "muted", "无变更"));
    } catch (e) { box.appendChild(el("p", "error", e.message)); }
  }

  // ---------------------------------------------------------------- stats & audit

  // Only the newest request of a table renders: a slow earlier answer (e.g. the unfiltered list
  // loaded when the tab opened) must not append to the rows of a later, filtered one.
  let statsSeq = 0;
  let auditSeq = 0;

  async function loadStats() {
    const seq = ++statsSeq;
    try {
      const data = await api("/stats?days=" + $("stats-days").value);
      if (seq !== statsSeq) return;
      const body = clear($("stats-rows"));
      if (!data.items.length) { const tr = el("tr"); tr.appendChild(el("td", "muted", "该时间段内没有命中记录")); body.appendChild(tr); }
      data.items.forEach(function (s) {
        const tr = el("tr");
        [s.entry_id, s.question || "", s.hits, s.helpful, s.not_helpful, s.handoffs_after, when(s.last_hit_at)]
          .forEach(function (v, i) { tr.appendChild(el("td", i === 0 ? "mono" : null, String(v))); });
        tr.addEventListener("click", function () { showTab("entries"); openEntry(s.entry_id); });
        body.appendChild(tr);
      });
    } catch (e) { flash(e.message, true); }
  }
  $("stats-refresh").addEventListener("click", loadStats);
  $("stats-days").addEventListener("change", loadStats);

  async function loadAudit() {
    const seq = ++auditSeq;
    const params = new URLSearchParams();
    if ($("audit-entry").value.trim()) params.set("entry_id", $("audit-entry").value.trim());
    if ($("audit-actor").value.trim()) params.set("actor", $("audit-actor").value.trim());
    try {
      const data = await api("/audit?" + params.toString());
      if (seq !== auditSeq) return;
      const body = clear($("audit-rows"));
      data.items.forEach(function (a) {
        const tr = el("tr");
        [when(a.at), a.actor, ACTION[a.action] || a.action, a.entry_id || "", a.release ? "#" + a.release : "", a.summary]
          .forEach(function (v) { tr.appendChild(el("td", null, v)); });
        body.appendChild(tr);
      });
    } catch (e) { flash(e.message, true); }
  }
  $("audit-refresh").addEventListener("click", loadAudit);

  // ---------------------------------------------------------------- import / export

  document.querySelectorAll("[data-export]").forEach(function (btn) {
    btn.addEventListener("click", async function () {
      try {
        const resp = await fetch(API + "/export?format=" + btn.dataset.export + "&version=" + btn.dataset.version,
                                 { headers: { Authorization: "Bearer " + token() } });
        if (!resp.ok) throw new Error("导出失败");
        const blob = await resp.blob();
        const a = el("a");
        a.href = URL.createObjectURL(blob);
        a.download = "知识库-" + btn.dataset.version + "." + btn.dataset.export;
        document.body.appendChild(a); a.click(); a.remove();
      } catch (e) { flash(e.message, true); }
    });
  });

  async function runImport(dry) {
    $("import-error").textContent = "";
    const box = clear($("import-result"));
    const file = $("import-file").files[0];
    if (!file) { $("import-error").textContent = "请选择 .xlsx 或 .csv 文件"; return; }
    const fd = new FormData();
    fd.append("file", file);
    try {
      const r = await api("/import" + (dry ? "?dry_run=true" : ""), { method: "POST", body: fd });
      box.appendChild(el("p", "ok", (dry ? "检查通过：" : "已导入为草稿：") + "新建 " + r.created.length +
                         " 条，修改 " + r.updated.length + " 条" + (dry ? "" : "，未变化 " + r.unchanged + " 条")));
      if (!dry) { loadEntries(); refreshStatus(); loadFacets(); }
    } catch (e) {
      $("import-error").textContent = e.message;
      const report = e.body && e.body.detail && e.body.detail.report;
      if (report) {
        const t = el("table", "grid");
        const hr = el("tr");
        ["行号", "条目ID", "字段", "问题"].forEach(function (h) { hr.appendChild(el("th", null, h)); });
        t.appendChild(hr);
        report.errors.forEach(function (x) {
          const tr = el("tr");
          [String(x.row), x.entry_id || "（新）", x.column || x.field, x.message].forEach(function (v) { tr.appendChild(el("td", null, v)); });
          t.appendChild(tr);
        });
        box.appendChild(t);
      }
    }
  }
  $("import-check").addEventListener("click", function () { runImport(true); });
  $("import-run").addEventListener("click", function () { runImport(false); });

  session.boot();
})();
