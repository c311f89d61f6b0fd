// Shared helpers of the staff consoles (agent desk /agent, KB ops /ops): DOM helpers, the JSON
// fetch wrapper with the JWT bearer token and Chinese error messages, and the login / logout
// flow with the token kept in sessionStorage. Loaded before the page script as window.Staff.
window.Staff = (function () {
  "use strict";
  const $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function errorText(body, fallback) {
    const d = body && body.detail;
    return (d && typeof d === "object" && d.message) ? d.message : fallback;
  }

  class ApiFailure extends Error {
    constructor(message, status, body) { super(message); this.status = status; this.body = body; }
  }

  // One console's session. opts: tokenKey (sessionStorage key), view (id of the section shown
  // once logged in), start() (called after a successful login), optional loginRefused(body)
  // (returns an error text to refuse the account), optional onLogout() (page clean-up).
  function session(opts) {
    function token() { return sessionStorage.getItem(opts.tokenKey); }

    function showLogin() {
      $(opts.view).hidden = true;
      $("login-view").hidden = false;
      $("login-user").focus();
    }

    function showApp() {
      $("login-view").hidden = true;
      $(opts.view).hidden = false;
    }

    function logout() {
      sessionStorage.removeItem(opts.tokenKey);
      if (opts.onLogout) opts.onLogout();
      showLogin();
    }

    // JSON request with the bearer token; 204 gives null, 401 logs out; errors throw ApiFailure.
    async function api(path, req) {
      req = req || {};
      const headers = Object.assign({ Authorization: "Bearer " + token() }, req.headers || {});
      let body = req.body;
      if (req.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(req.json);
      }
      const resp = await fetch(path, { method: req.method || "GET", headers: headers, body: body });
      if (resp.status === 204) return null;
      const data = await resp.json().catch(function () { return null; });
      if (resp.status === 401) { logout(); throw new ApiFailure(errorText(data, "请重新登录"), 401, data); }
      if (!resp.ok) throw new ApiFailure(errorText(data, "操作失败，请稍后重试"), resp.status, data);
      return data;
    }

    $("login-form").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      $("login-error").textContent = "";
      const form = new URLSearchParams();
      form.set("username", $("login-user").value.trim());
      form.set("password", $("login-pass").value);
      try {
        const resp = await fetch("/api/v1/auth/token", { method: "POST", body: form });
        const body = await resp.json().catch(function () { return null; });
        if (!resp.ok) { $("login-error").textContent = errorText(body, "登录失败"); return; }
        const refused = opts.loginRefused && opts.loginRefused(body);
        if (refused) { $("login-error").textContent = refused; return; }
        sessionStorage.setItem(opts.tokenKey, body.access_token);
        $("login-pass").value = "";
        opts.start();
      } catch (e) {
        $("login-error").textContent = "网络异常，请稍后重试";
      }
    });
    $("logout").addEventListener("click", logout);

    // Called once at the end of the page script: resume a stored session or ask to log in.
    function boot() { if (token()) opts.start(); else showLogin(); }

    return { token: token, api: api, logout: logout, showLogin: showLogin, showApp: showApp,
             boot: boot };
  }

  return { $: $, el: el, errorText: errorText, ApiFailure: ApiFailure, session: session };
})();
