/*
 * The web chat page (/app/): plain JavaScript on the public contract only.
 *
 *   auth service REST (cross-origin, CORS):  /v1/auth/signup, signin[/mfa], refresh, signout,
 *                                            sessions[/{id}], password/change, mfa/totp[/setup|/confirm]
 *   chat service REST (same origin):         /v1/chat/conversations[/{id}[/messages]], /v1/chat/models
 *   chat websocket (same origin):            /ws/chat/, first frame {"type": "auth", "token"}
 *
 * What users write is put on the page with textContent, never as HTML. The model's replies are
 * Markdown, rendered by the vendored markdown-it (vendor/, loaded before this file) with raw HTML
 * off, then cleaned against an allowlist of elements and attributes: model output never becomes
 * markup of its own. The page's Content-Security-Policy allows no inline script, so these two
 * files are the only code.
 */
"use strict";

(() => {
  const AUTH_URL = document.body.dataset.authUrl.replace(/\/+$/, "");
  const WS_URL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/chat/";
  const HISTORY_PAGE = 100;
  const REFRESH_MARGIN_MS = 15000;

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"), alert: $("alert"), who: $("who"), whoEmail: $("who-email"), signout: $("signout"),
    authView: $("auth-view"), chatView: $("chat-view"), signinForm: $("signin-form"), signupForm: $("signup-form"),
    list: $("conversation-list"), newConversation: $("new-conversation"), title: $("conversation-title"),
    actions: $("conversation-actions"), renameOpen: $("rename-open"), renameForm: $("rename-form"),
    renameInput: $("rename-input"), renameCancel: $("rename-cancel"), deleteConversation: $("delete-conversation"),
    messages: $("messages"), composer: $("composer"), input: $("composer-input"), send: $("send"), stop: $("stop"),
    modelPicker: $("model-picker"), model: $("model-select"),
    signinMfaForm: $("signin-mfa-form"), signinMfaCode: $("signin-mfa-code"), signinMfaBack: $("signin-mfa-back"),
    account: $("account"), accountOpen: $("account-open"), accountClose: $("account-close"),
    sessionList: $("session-list"), passwordForm: $("password-form"), mfaState: $("mfa-state"), mfaOn: $("mfa-on"),
    mfaSetup: $("mfa-setup"), mfaSecret: $("mfa-secret"), mfaUri: $("mfa-uri"), mfaConfirmForm: $("mfa-confirm-form"),
    mfaSetupCancel: $("mfa-setup-cancel"), mfaRecovery: $("mfa-recovery"), mfaRecoveryCodes: $("mfa-recovery-codes"),
    mfaOffForm: $("mfa-off-form"),
  };

  // ---- words for errors -------------------------------------------------------------------------
  const ERROR_WORDS = {
    rate_limited: "You are sending messages too quickly; wait a moment and try again.",
    upstream_error: "The AI model failed to answer; try again in a moment.",
    upstream_timeout: "The AI model took too long to answer; try again.",
    unavailable: "The AI model is not available right now; try again later.",
    unauthenticated: "Your session has ended (signed out, revoked or expired); please sign in again.",
    not_found: "That conversation or message no longer exists.",
    already_exists: "An account with this email already exists; sign in instead.",
    payload_too_large: "That message is too long.",
    network: "The connection to the service failed; check your network and try again.",
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code);
      this.status = status;
      this.code = code;
    }
  }

  function errorWords(code, message) {
    const words = ERROR_WORDS[code];
    if (words && message && code !== "unauthenticated") return `${words} (${message})`;
    return words || message || "Something went wrong.";
  }

  function apiErrorFrom(status, body) {
    const error = (body && body.error) || {};
    return new ApiError(status, error.code || `http_${status}`, error.message || `HTTP ${status}`);
  }

  function showAlert(text) {
    el.alert.textContent = text;
    el.alert.hidden = !text;
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function guard(fn) {
    return (...args) => Promise.resolve().then(() => fn(...args)).catch(handleError);
  }

  function handleError(error) {
    if (error instanceof ApiError && (error.status === 401 || error.code === "unauthenticated")) {
      sessionEnded();
      return;
    }
    if (error instanceof ApiError) showAlert(errorWords(error.code, error.message));
    else showAlert(error && error.message ? error.message : String(error));
  }

  function uuid4() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- Markdown -------------------------------------------------------------------------------------
  // markdown-it with raw HTML off: "<script>" in a reply is text. Its validateLink (kept) refuses
  // javascript:, vbscript:, file: and data: links; images are switched off, so a reply loads
  // nothing (they show as links); links open in a new tab with no opener and no referrer. The
  // rendered HTML is parsed in an inert <template> and checked against an allowlist before it is
  // shown, so even a renderer bug could not add a script, a handler or a style.
  const markdown = (() => {
    if (typeof window.markdownit !== "function") return null; // the vendored file did not load: plain text
    const md = window.markdownit({ html: false, linkify: false, typographer: false, breaks: true });
    md.disable("image");
    md.core.ruler.push("no_style", (state) => {
      // Table cell alignment comes as style="text-align: …", which the CSP would refuse anyway.
      const strip = (tokens) => {
        for (const token of tokens) {
          if (token.attrs) token.attrs = token.attrs.filter(([name]) => name !== "style");
          if (token.children) strip(token.children);
        }
      };
      strip(state.tokens);
    });
    const linkOpen = md.renderer.rules.link_open || ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
    md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
      tokens[idx].attrSet("target", "_blank");
      tokens[idx].attrSet("rel", "noopener noreferrer");
      return linkOpen(tokens, idx, options, env, self);
    };
    return md;
  })();

  const MARKDOWN_ELEMENTS = new Set([
    "P", "BR", "HR", "EM", "STRONG", "S", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A",
    "H1", "H2", "H3", "H4", "H5", "H6", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD",
  ]);
  const MARKDOWN_ATTRIBUTES = { A: ["href", "title", "target", "rel"], OL: ["start"], CODE: ["class"] };
  const SAFE_HREF = /^(https?:|mailto:)/i;

  function markdownClean(parent) {
    for (const node of [...parent.childNodes]) {
      if (node.nodeType === Node.TEXT_NODE) continue;
      if (node.nodeType !== Node.ELEMENT_NODE) {
        node.remove(); // a comment or the like: nothing of the reply's text
        continue;
      }
      if (!MARKDOWN_ELEMENTS.has(node.tagName)) {
        node.replaceWith(document.createTextNode(node.textContent || ""));
        continue;
      }
      const allowed = MARKDOWN_ATTRIBUTES[node.tagName] || [];
      for (const { name } of [...node.attributes]) {
        if (!allowed.includes(name)) node.removeAttribute(name);
      }
      if (node.tagName === "CODE" && !/^language-[\w+#.-]+$/.test(node.getAttribute("class") || "")) {
        node.removeAttribute("class");
      }
      markdownClean(node);
      if (node.tagName === "A" && !SAFE_HREF.test(node.getAttribute("href") || "")) {
        node.replaceWith(...node.childNodes); // a link that is not http(s) or mailto stays as its text
      }
    }
  }

  function markdownFragment(text) {
    const template = document.createElement("template");
    template.innerHTML = markdown.render(text);
    const fragment = template.content;
    markdownClean(fragment);
    // The renderer puts a newline between blocks; at the top level it is no text of the reply.
    for (const node of [...fragment.childNodes]) {
      if (node.nodeType === Node.TEXT_NODE && !node.textContent.trim()) node.remove();
    }
    return fragment;
  }

  // A message's text on screen: assistant replies as Markdown, everything else as plain text.
  function textShow(view, text) {
    if (view.markdown) view.text.replaceChildren(markdownFragment(text));
    else view.text.textContent = text;
  }

  // ---- tokens -------------------------------------------------------------------------------------
  // Tokens are kept in memory only. Trade-off: a reload (or a new tab) means signing in again, but
  // no script that ever ran on this origin can read a long-lived refresh token from storage;
  // sessionStorage would survive reloads at the price of exposing the refresh token (7 days,
  // rotating) to any script injection. The reply itself survives a reload either way: it belongs to
  // the conversation, and opening the conversation again resumes it.
  // session.mfa is whether two-factor is on, as far as this page knows: no endpoint tells it, so
  // it is learnt at sign-in (a second step means on; none, or a sign-up, means off) and from the
  // panel's own turn-on / turn-off (a setup answered 409 means on). A change made elsewhere
  // meanwhile (another device, staff) shows after the next sign-in.
  let session = null; // {user, access, refresh, accessExpiresAt, mfa}
  let refreshing = null;

  function sessionSet(user, tokens, mfa) {
    session = {
      mfa: mfa === undefined ? session && session.mfa : mfa,
      user: user || (session && session.user),
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      accessExpiresAt: Date.parse(tokens.access_expires_at) || Date.now() + 60000,
    };
  }

  async function authPost(path, body, bearer) {
    return authFetch("POST", path, body, bearer);
  }

  async function authFetch(method, path, body, bearer) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let response;
    try {
      response = await fetch(`${AUTH_URL}/v1/auth/${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, "network", `Cannot reach the sign-in service at ${AUTH_URL}.`);
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw apiErrorFrom(response.status, data);
    return data;
  }

  // The account calls (sessions, password, two-factor) with the access token, refreshed once on a 401.
  async function authApi(method, path, body, retried = false) {
    const token = await accessToken();
    try {
      return await authFetch(method, path, body, token);
    } catch (error) {
      if (error.status !== 401 || retried) throw error;
      await tokensRefresh();
      return authApi(method, path, body, true);
    }
  }

  // One refresh at a time: the auth service rotates refresh tokens and treats a spent one,
  // presented again, as theft (the whole session is revoked).
  function tokensRefresh() {
    if (!session) return Promise.reject(new ApiError(401, "unauthenticated", "Not signed in."));
    if (!refreshing) {
      const spent = session.refresh;
      refreshing = authPost("refresh", { refresh_token: spent })
        .then((data) => sessionSet(null, data.tokens))
        .catch((error) => {
          if (error.status === 400 || error.status === 401) throw new ApiError(401, "unauthenticated", error.message);
          throw error;
        })
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function accessToken() {
    if (!session) throw new ApiError(401, "unauthenticated", "Not signed in.");
    if (session.accessExpiresAt - Date.now() < REFRESH_MARGIN_MS) await tokensRefresh();
    return session.access;
  }

  async function chatApi(method, path, body, retried = false) {
    const headers = { Authorization: `Bearer ${await accessToken()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`/v1/chat/${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, "network", "Cannot reach the chat service.");
    }
    if (response.status === 401 && !retried) {
      await tokensRefresh();
      return chatApi(method, path, body, true);
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw apiErrorFrom(response.status, data);
    return data;
  }

  // ---- sign in / out ---------------------------------------------------------------------------------
  function formValues(form) {
    return Object.fromEntries(new FormData(form).entries());
  }

  async function signIn(event) {
    event.preventDefault();
    showAlert("");
    const { email, password } = formValues(el.signinForm);
    setStatus("Signing in…");
    const data = await authPost("signin", { email, password }).catch((error) => {
      setStatus("");
      if (error.status === 401) throw new Error("Wrong email or password.");
      throw error;
    });
    if (data && data.mfa_required) {
      // The password was right; the account wants a code too (POST /v1/auth/signin/mfa).
      mfaToken = data.mfa_token;
      el.signinForm.reset();
      el.signinForm.hidden = true;
      el.signinMfaForm.hidden = false;
      setStatus("Enter the code from your authenticator app.");
      el.signinMfaCode.focus();
      return;
    }
    signedIn(data, false);
  }

  let mfaToken = null; // between the two steps of a two-factor sign-in

  async function signInMfa(event) {
    event.preventDefault();
    showAlert("");
    const code = el.signinMfaCode.value.trim();
    if (!code || !mfaToken) return;
    setStatus("Checking the code…");
    const data = await authPost("signin/mfa", { mfa_token: mfaToken, code }).catch((error) => {
      setStatus("");
      el.signinMfaCode.value = "";
      // 401 here is the code, not a session: wrong, already used, or the sign-in's time is up.
      if (error.status === 401) {
        throw new Error("That code did not work (wrong, already used, or this sign-in has expired). "
          + "Try the next code, or start over.");
      }
      throw error;
    });
    signInMfaReset();
    signedIn(data, true);
  }

  function signInMfaReset() {
    mfaToken = null;
    el.signinMfaForm.reset();
    el.signinMfaForm.hidden = true;
    el.signinForm.hidden = false;
  }

  async function signUp(event) {
    event.preventDefault();
    showAlert("");
    const { name, email, password } = formValues(el.signupForm);
    setStatus("Creating your account…");
    const data = await authPost("signup", { name, email, password }).catch((error) => {
      setStatus("");
      throw error;
    });
    signedIn(data, false);
  }

  function signedIn(data, mfa) {
    sessionSet(data.user, data.tokens, mfa);
    el.signinForm.reset();
    el.signupForm.reset();
    el.whoEmail.textContent = session.user ? session.user.email : "";
    el.who.hidden = false;
    el.authView.hidden = true;
    el.chatView.hidden = false;
    setStatus("Signed in.");
    conversationNew();
    socketOpen();
    conversationsLoad().catch(handleError);
    modelsLoad().catch(() => { el.modelPicker.hidden = true; }); // no selector: the service's default
    el.input.focus();
  }

  function signedOut(alertText) {
    const ending = session;
    session = null;
    socketClose();
    replies.clear();
    state.pending = null;
    state.reply = null;
    state.currentId = null;
    el.list.textContent = "";
    el.messages.textContent = "";
    el.model.textContent = "";
    el.modelPicker.hidden = true;
    el.who.hidden = true;
    accountClose();
    el.chatView.hidden = true;
    el.authView.hidden = false;
    showAlert(alertText || "");
    setStatus(alertText ? "" : "Signed out.");
    return ending;
  }

  function sessionEnded() {
    if (session) signedOut(ERROR_WORDS.unauthenticated);
  }

  async function signOut() {
    const ending = signedOut("");
    if (ending) await authPost("signout", {}, ending.access).catch(() => {});
  }

  // ---- the account panel: sessions, password, two-factor --------------------------------------------
  function accountOpen() {
    showAlert("");
    el.account.hidden = false;
    el.accountOpen.setAttribute("aria-expanded", "true");
    mfaShow();
    el.account.querySelector("h2").focus();
    return sessionsLoad();
  }

  function accountClose() {
    el.account.hidden = true;
    el.accountOpen.setAttribute("aria-expanded", "false");
    el.sessionList.textContent = "";
    el.passwordForm.reset();
    el.mfaConfirmForm.reset();
    el.mfaOffForm.reset();
    el.mfaSetup.hidden = true;
    el.mfaSecret.value = "";
    el.mfaUri.value = "";
    el.mfaRecovery.hidden = true;
    el.mfaRecoveryCodes.textContent = "";
  }

  function when(text) {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? "unknown" : date.toLocaleString();
  }

  // GET /v1/auth/sessions -> {sessions: [{id, created_at, last_used_at, ip, user_agent, current}]}
  async function sessionsLoad() {
    const data = await authApi("GET", "sessions");
    el.sessionList.textContent = "";
    for (const item of (data && data.sessions) || []) {
      const li = document.createElement("li");
      li.dataset.id = item.id;
      li.dataset.current = String(Boolean(item.current));
      const where = document.createElement("span");
      where.className = "session-where";
      where.textContent = `${item.ip || "unknown address"}${item.current ? " (this session)" : ""}`;
      const agent = document.createElement("span");
      agent.className = "session-agent";
      agent.textContent = item.user_agent || "unknown browser or program";
      const times = document.createElement("span");
      times.className = "session-when";
      times.textContent = `Signed in ${when(item.created_at)}; last used ${when(item.last_used_at)}`;
      const end = document.createElement("button");
      end.type = "button";
      end.textContent = "End";
      end.setAttribute("aria-label", item.current ? "End this session" : `End the session from ${where.textContent}`);
      end.addEventListener("click", guard(() => sessionEnd(item.id, Boolean(item.current))));
      li.append(where, agent, times, end);
      el.sessionList.append(li);
    }
  }

  async function sessionEnd(id, current) {
    showAlert("");
    await authApi("DELETE", `sessions/${encodeURIComponent(id)}`);
    if (current) {
      signedOut(""); // the tokens are dead already: no sign-out call
      return;
    }
    setStatus("Session ended.");
    await sessionsLoad();
  }

  async function passwordChange(event) {
    event.preventDefault();
    showAlert("");
    const { current_password, new_password } = formValues(el.passwordForm);
    setStatus("Changing the password…");
    try {
      await authApi("POST", "password/change", { current_password, new_password });
    } catch (error) {
      setStatus("");
      throw error;
    }
    el.passwordForm.reset();
    setStatus("Password changed. Every other session has been signed out.");
    await sessionsLoad();
  }

  function mfaShow() {
    const on = session ? session.mfa : null;
    el.mfaState.textContent = on === true ? "Two-factor sign-in is on." : on === false
      ? "Two-factor sign-in is off." : "Two-factor sign-in: unknown until the next sign-in.";
    el.mfaState.dataset.state = on === true ? "on" : on === false ? "off" : "unknown";
    el.mfaOn.hidden = on === true || !el.mfaSetup.hidden;
    el.mfaOffForm.hidden = on === false;
  }

  // POST /v1/auth/mfa/totp/setup -> {secret, otpauth_uri}; nothing changes until a code confirms it.
  async function mfaSetupStart() {
    showAlert("");
    el.mfaRecovery.hidden = true;
    el.mfaRecoveryCodes.textContent = "";
    let data;
    try {
      data = await authApi("POST", "mfa/totp/setup");
    } catch (error) {
      if (error.status === 409) {
        session.mfa = true;
        mfaShow();
        throw new Error("Two-factor sign-in is already on for this account.");
      }
      throw error;
    }
    el.mfaSecret.value = data.secret;
    el.mfaUri.value = data.otpauth_uri;
    el.mfaSetup.hidden = false;
    mfaShow();
    el.mfaSecret.focus();
    el.mfaSecret.select();
  }

  function mfaSetupCancel() {
    el.mfaSetup.hidden = true;
    el.mfaConfirmForm.reset();
    el.mfaSecret.value = "";
    el.mfaUri.value = "";
    mfaShow();
  }

  // POST /v1/auth/mfa/totp/confirm {code} -> {recovery_codes}, shown this once.
  async function mfaConfirm(event) {
    event.preventDefault();
    showAlert("");
    const code = new FormData(el.mfaConfirmForm).get("code").trim();
    if (!code) return;
    const data = await authApi("POST", "mfa/totp/confirm", { code });
    session.mfa = true;
    mfaSetupCancel();
    el.mfaRecoveryCodes.textContent = "";
    for (const recovery of (data && data.recovery_codes) || []) {
      const li = document.createElement("li");
      li.textContent = recovery;
      el.mfaRecoveryCodes.append(li);
    }
    el.mfaRecovery.hidden = false;
    setStatus("Two-factor sign-in is on.");
  }

  // DELETE /v1/auth/mfa/totp {password} -> 204.
  async function mfaTurnOff(event) {
    event.preventDefault();
    showAlert("");
    const password = new FormData(el.mfaOffForm).get("password");
    await authApi("DELETE", "mfa/totp", { password });
    session.mfa = false;
    el.mfaOffForm.reset();
    el.mfaRecovery.hidden = true;
    el.mfaRecoveryCodes.textContent = "";
    mfaShow();
    setStatus("Two-factor sign-in is off.");
  }

  // ---- models ------------------------------------------------------------------------------------------
  // GET /v1/chat/models -> {models: [{id}], default}; the chosen one goes in each message frame.
  async function modelsLoad() {
    const data = await chatApi("GET", "models");
    const ids = (data.models || []).map((m) => m.id).filter(Boolean);
    el.model.textContent = "";
    for (const id of ids) {
      const option = document.createElement("option");
      option.value = id;
      option.textContent = id;
      el.model.append(option);
    }
    if (ids.includes(data.default)) el.model.value = data.default;
    el.modelPicker.hidden = ids.length === 0;
  }

  function modelChosen() {
    return el.modelPicker.hidden ? "" : el.model.value;
  }

  // ---- conversations -----------------------------------------------------------------------------------
  const state = { conversations: [], currentId: null, pending: null, reply: null, branching: false };

  async function conversationsLoad() {
    const data = await chatApi("GET", "conversations?limit=100");
    state.conversations = data.conversations;
    el.list.textContent = "";
    for (const conversation of data.conversations) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = conversation.title || "Untitled conversation";
      button.dataset.id = conversation.id;
      if (conversation.id === state.currentId) button.setAttribute("aria-current", "true");
      button.addEventListener("click", guard(() => conversationOpen(conversation.id)));
      item.append(button);
      el.list.append(item);
    }
    headingUpdate();
  }

  function headingUpdate() {
    const current = state.conversations.find((c) => c.id === state.currentId);
    el.title.textContent = state.currentId ? (current && current.title) || "Untitled conversation" : "New conversation";
    el.actions.hidden = !state.currentId;
    for (const button of el.list.querySelectorAll("button")) {
      if (button.dataset.id === state.currentId) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  function conversationNew() {
    state.currentId = null;
    state.reply = null;
    replies.clear();
    el.messages.textContent = "";
    el.renameForm.hidden = true;
    headingUpdate();
    buttonsUpdate();
  }

  async function conversationOpen(id) {
    showAlert("");
    state.currentId = id;
    state.reply = null;
    replies.clear();
    el.messages.textContent = "";
    el.renameForm.hidden = true;
    headingUpdate();
    buttonsUpdate();
    const path = `conversations/${encodeURIComponent(id)}/messages`;
    let page = await chatApi("GET", `${path}?limit=${HISTORY_PAGE}`);
    if (page.total > HISTORY_PAGE) page = await chatApi("GET", `${path}?limit=${HISTORY_PAGE}&offset=${page.total - HISTORY_PAGE}`);
    if (state.currentId !== id) return;
    const lastReply = page.messages.filter((m) => m.role === "assistant").pop();
    if (lastReply && [...el.model.options].some((o) => o.value === lastReply.model)) el.model.value = lastReply.model;
    for (const message of page.messages) {
      const view = messageRender(message);
      if (message.role === "assistant" && message.status === "streaming") {
        // Still being written (perhaps the page was reloaded mid-reply). Its seq is not stored, so
        // resume from 0 and rebuild the text from the deltas; the stored text stays on screen
        // until the rebuilt text has caught up with it, so nothing shrinks or repeats.
        replyTrack(message.id, view, message.content.length);
        state.reply = message.id;
        socketSend({ type: "resume", message_id: message.id, after_seq: 0 });
      }
    }
    buttonsUpdate();
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  async function conversationRename(event) {
    event.preventDefault();
    const title = el.renameInput.value.trim();
    if (!title || !state.currentId) return;
    await chatApi("PATCH", `conversations/${encodeURIComponent(state.currentId)}`, { title });
    el.renameForm.hidden = true;
    el.actions.hidden = false;
    await conversationsLoad();
    setStatus("Conversation renamed.");
    el.renameOpen.focus();
  }

  async function conversationDelete() {
    if (!state.currentId) return;
    const current = state.conversations.find((c) => c.id === state.currentId);
    const name = (current && current.title) || "this conversation";
    if (!window.confirm(`Delete “${name}” and all its messages?`)) return;
    await chatApi("DELETE", `conversations/${encodeURIComponent(state.currentId)}`);
    conversationNew();
    await conversationsLoad();
    setStatus("Conversation deleted.");
    el.newConversation.focus();
  }

  // ---- messages on screen ----------------------------------------------------------------------------
  const STATUS_NOTES = { cancelled: "Stopped.", failed: "The reply failed; what arrived is kept.", streaming: "Writing…" };

  function messageRender(message) {
    const item = document.createElement("li");
    item.className = `message ${message.role}`;
    const whoSaid = document.createElement("span");
    whoSaid.className = "who-said";
    whoSaid.textContent = message.role === "user" ? "You" : "Assistant";
    const asMarkdown = message.role === "assistant" && markdown !== null;
    const text = document.createElement(asMarkdown ? "div" : "p");
    text.className = asMarkdown ? "text markdown" : "text";
    const note = document.createElement("span");
    note.className = "note";
    item.append(whoSaid, text, note);
    if (message.id) item.dataset.id = message.id;
    el.messages.append(item);
    const view = { item, text, note, markdown: asMarkdown, branch: null };
    textShow(view, message.content || "");
    messageStatusSet(view, message.status);
    branchControlsSet(view, message);
    el.messages.scrollTop = el.messages.scrollHeight;
    return view;
  }

  function messageStatusSet(view, status, extra) {
    view.item.dataset.status = status || "";
    view.item.classList.toggle("failed", status === "failed");
    view.note.textContent = extra || STATUS_NOTES[status] || "";
  }

  // Replies being followed on the socket: id -> {view, seq, text, floor, done, frame}. The text is
  // re-rendered whole (Markdown depends on what follows) at most once per animation frame.
  const replies = new Map();

  function replyTrack(messageId, view, floor = 0) {
    let reply = replies.get(messageId);
    if (!reply) {
      reply = { view, seq: 0, text: "", floor, done: false, frame: 0 };
      replies.set(messageId, reply);
      view.item.setAttribute("aria-busy", "true");
    }
    return reply;
  }

  function replyDelta(frame) {
    const reply = replies.get(frame.message_id);
    if (!reply || reply.done) return;
    if (frame.seq <= reply.seq) return; // already shown (a resume overlaps what we have)
    // A frame may join the deltas from_seq..seq (sent to a reader that fell behind).
    const first = frame.from_seq || frame.seq;
    if (first !== reply.seq + 1) {
      // A gap should never happen; ask again from what we have rather than show a hole.
      socketSend({ type: "resume", message_id: frame.message_id, after_seq: reply.seq });
      return;
    }
    reply.seq = frame.seq;
    reply.text += frame.content;
    if (reply.text.length >= reply.floor) replyShowSoon(reply);
    if (state.reply === frame.message_id) setStatus("");
  }

  function replyShowSoon(reply) {
    if (reply.frame) return;
    reply.frame = requestAnimationFrame(() => {
      reply.frame = 0;
      if (reply.done) return;
      textShow(reply.view, reply.text);
      el.messages.scrollTop = el.messages.scrollHeight;
    });
  }

  function replyFinished(messageId, message, errorText) {
    const reply = replies.get(messageId);
    if (reply && !reply.done) {
      reply.done = true;
      cancelAnimationFrame(reply.frame);
      reply.frame = 0;
      reply.view.item.removeAttribute("aria-busy");
      if (message) {
        textShow(reply.view, message.content);
        messageStatusSet(reply.view, message.status);
        branchControlsSet(reply.view, message);
      } else {
        messageStatusSet(reply.view, "failed", errorText);
      }
    }
    if (state.reply === messageId) {
      state.reply = null;
      setStatus(message && message.status === "cancelled" ? "Reply stopped." : "");
    }
    buttonsUpdate();
  }

  function buttonsUpdate() {
    const busy = Boolean(state.pending || state.reply || state.branching);
    el.send.disabled = busy;
    el.stop.disabled = !state.reply;
    for (const button of el.messages.querySelectorAll(".branch button")) {
      button.disabled = busy || button.dataset.edge === "true";
    }
  }

  // ---- branches ----------------------------------------------------------------------------------------
  // With a service that keeps every version of a message (messages carry parent_id and sibling_ids:
  // the messages at that place, itself included, oldest first), a message with siblings shows
  // "‹ 2 / 3 ›" and a finished reply shows Regenerate. A message without sibling_ids (a service
  // without branches) shows neither, so the page works the same against either.
  function branchControlsSet(view, message) {
    if (view.branch) view.branch.remove();
    view.branch = null;
    if (!message || !message.id || !Array.isArray(message.sibling_ids)) return;
    const siblings = message.sibling_ids.filter((id) => typeof id === "string");
    const bar = document.createElement("div");
    bar.className = "branch";
    const at = siblings.indexOf(message.id);
    if (siblings.length > 1 && at >= 0) {
      const nav = document.createElement("span");
      nav.className = "branch-nav";
      nav.setAttribute("role", "group");
      nav.setAttribute("aria-label", "Versions of this message");
      const step = (label, words, to) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.setAttribute("aria-label", words);
        button.dataset.edge = String(to < 0 || to >= siblings.length);
        button.addEventListener("click", guard(() => branchShow(siblings[to])));
        return button;
      };
      const position = document.createElement("span");
      position.className = "branch-position";
      position.textContent = `${at + 1} / ${siblings.length}`;
      nav.append(step("‹", "Previous version", at - 1), position, step("›", "Next version", at + 1));
      bar.append(nav);
    }
    if (message.role === "assistant" && message.status !== "streaming") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "regenerate";
      button.textContent = "Regenerate";
      button.addEventListener("click", guard(() => replyRegenerate(message.id)));
      bar.append(button);
    }
    if (!bar.childNodes.length) return;
    view.item.append(bar);
    view.branch = bar;
    buttonsUpdate();
  }

  // Show the branch through another version (PUT .../branch), then the conversation as it now is.
  async function branchShow(messageId) {
    if (!messageId) return;
    await branchChange(() =>
      chatApi("PUT", `conversations/${encodeURIComponent(state.currentId)}/branch`, { leaf_message_id: messageId }));
  }

  // Ask for another answer in the reply's place (a new sibling), then show the conversation: a reply
  // still being written is resumed from the socket as when opening any conversation.
  async function replyRegenerate(messageId) {
    setStatus("Asking for another answer…");
    await branchChange(() => chatApi("POST", `messages/${encodeURIComponent(messageId)}/regenerate`, {}));
  }

  async function branchChange(call) {
    const id = state.currentId;
    if (!id || state.pending || state.reply || state.branching) return;
    showAlert("");
    state.branching = true;
    buttonsUpdate();
    try {
      await call();
    } finally {
      state.branching = false;
      buttonsUpdate();
    }
    if (state.currentId === id) await conversationOpen(id);
    if (!state.reply) setStatus("");
  }

  // ---- sending -----------------------------------------------------------------------------------------
  function messageSend(event) {
    if (event) event.preventDefault();
    const content = el.input.value;
    if (!content.trim() || state.pending || state.reply) return;
    showAlert("");
    const frame = { type: "message", content, client_message_id: uuid4() };
    if (state.currentId) frame.conversation_id = state.currentId;
    const model = modelChosen();
    if (model) frame.model = model;
    const view = messageRender({ role: "user", content, status: "complete" });
    state.pending = { frame, view };
    el.input.value = "";
    buttonsUpdate();
    setStatus("Sending…");
    socketSend(frame);
  }

  function replyStop() {
    if (!state.reply) return;
    setStatus("Stopping the reply…");
    socketSend({ type: "cancel", message_id: state.reply });
  }

  // ---- the websocket -----------------------------------------------------------------------------------
  // One socket, reopened with backoff when it drops. On every (re)open it authenticates, re-sends
  // a message that was not acknowledged (same client_message_id: the server makes no second
  // one) and resumes each reply in flight after the last seq shown: no gap, no repeat.
  const socket = { ws: null, ready: false, wanted: false, attempt: 0, timer: null, queue: [], refused: 0 };

  function socketOpen() {
    socket.wanted = true;
    if (socket.ws || socket.timer) return;
    const ws = new WebSocket(WS_URL);
    socket.ws = ws;
    ws.addEventListener("open", guard(async () => {
      const token = await accessToken();
      if (socket.ws !== ws) return;
      ws.send(JSON.stringify({ type: "auth", token }));
      socket.ready = true;
      if (socket.attempt > 0) setStatus("Reconnected.");
      if (state.pending) ws.send(JSON.stringify(state.pending.frame));
      for (const [messageId, reply] of replies) {
        if (!reply.done) ws.send(JSON.stringify({ type: "resume", message_id: messageId, after_seq: reply.seq }));
      }
      for (const frame of socket.queue.splice(0)) ws.send(JSON.stringify(frame));
    }));
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame.type !== "error" || frame.code !== "unauthenticated") {
        socket.attempt = 0;
        socket.refused = 0;
      }
      frameReceived(frame);
    });
    ws.addEventListener("close", (event) => {
      if (socket.ws !== ws) return;
      socket.ws = null;
      socket.ready = false;
      if (!socket.wanted || !session) return;
      if (event.code === 4401) {
        // The token expired or the session ended: a fresh token tells which.
        socket.refused += 1;
        if (socket.refused > 2) {
          sessionEnded();
          return;
        }
        tokensRefresh().then(() => socketReconnectLater(0), handleError);
        return;
      }
      socketReconnectLater();
    });
  }

  function socketReconnectLater(delay) {
    if (delay === undefined) {
      delay = Math.min(30000, 500 * 2 ** socket.attempt) * (0.75 + Math.random() * 0.5);
      socket.attempt += 1;
      setStatus(`Connection lost; reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
    }
    socket.timer = setTimeout(() => {
      socket.timer = null;
      if (socket.wanted && session) socketOpen();
    }, delay);
  }

  function socketClose() {
    socket.wanted = false;
    socket.queue = [];
    clearTimeout(socket.timer);
    socket.timer = null;
    if (socket.ws) socket.ws.close(1000);
    socket.ws = null;
    socket.ready = false;
  }

  function socketSend(frame) {
    if (socket.ready && socket.ws && socket.ws.readyState === WebSocket.OPEN) {
      socket.ws.send(JSON.stringify(frame));
      return;
    }
    // Messages and resumes are re-sent from state on open; only cancels wait in the queue.
    if (frame.type === "cancel") socket.queue.push(frame);
    socketOpen();
  }

  function frameReceived(frame) {
    switch (frame.type) {
      case "ack": {
        const pending = state.pending;
        state.pending = null;
        if (pending) {
          pending.view.item.dataset.id = frame.user_message.id;
          branchControlsSet(pending.view, frame.user_message);
          if (!state.currentId) {
            state.currentId = frame.conversation_id;
            conversationsLoad().catch(handleError);
          }
        }
        buttonsUpdate();
        break;
      }
      case "start": {
        if (!replies.has(frame.message_id)) {
          const view = messageRender({ id: frame.message_id, role: "assistant", content: "", status: "streaming" });
          replyTrack(frame.message_id, view);
        }
        state.reply = frame.message_id;
        setStatus("The assistant is writing…");
        buttonsUpdate();
        break;
      }
      case "delta":
        replyDelta(frame);
        break;
      case "done":
        replyFinished(frame.message.id, frame.message);
        conversationsLoad().catch(handleError);
        break;
      case "title":
        titleReceived(frame);
        break;
      case "error":
        frameError(frame);
        break;
      default:
        break;
    }
  }

  // {"type": "title", conversation_id, title}: the service named a conversation by itself.
  function titleReceived(frame) {
    if (typeof frame.conversation_id !== "string" || typeof frame.title !== "string") return;
    const conversation = state.conversations.find((c) => c.id === frame.conversation_id);
    if (!conversation) {
      // Not listed yet (a new conversation whose listing is still on its way): list again.
      conversationsLoad().catch(handleError);
      return;
    }
    conversation.title = frame.title;
    for (const button of el.list.querySelectorAll("button")) {
      if (button.dataset.id === frame.conversation_id) button.textContent = frame.title || "Untitled conversation";
    }
    if (frame.conversation_id === state.currentId) el.title.textContent = frame.title || "Untitled conversation";
  }

  function frameError(frame) {
    if (frame.code === "unauthenticated") return; // the 4401 close that follows handles it
    const words = errorWords(frame.code, frame.message);
    if (frame.message_id && replies.has(frame.message_id)) {
      replyFinished(frame.message_id, null, words);
    } else if (state.pending) {
      messageStatusSet(state.pending.view, "failed", `Not sent: ${words}`);
      el.input.value = el.input.value || state.pending.frame.content;
      state.pending = null;
      buttonsUpdate();
      setStatus("");
    }
    showAlert(words);
  }

  // ---- wiring ------------------------------------------------------------------------------------------
  el.signinForm.addEventListener("submit", guard(signIn));
  el.signinMfaForm.addEventListener("submit", guard(signInMfa));
  el.signinMfaBack.addEventListener("click", () => {
    signInMfaReset();
    showAlert("");
    setStatus("");
  });
  el.accountOpen.addEventListener("click", guard(() => (el.account.hidden ? accountOpen() : accountClose())));
  el.accountClose.addEventListener("click", () => {
    accountClose();
    el.accountOpen.focus();
  });
  el.passwordForm.addEventListener("submit", guard(passwordChange));
  el.mfaOn.addEventListener("click", guard(mfaSetupStart));
  el.mfaSetupCancel.addEventListener("click", mfaSetupCancel);
  el.mfaConfirmForm.addEventListener("submit", guard(mfaConfirm));
  el.mfaOffForm.addEventListener("submit", guard(mfaTurnOff));
  el.signupForm.addEventListener("submit", guard(signUp));
  el.signout.addEventListener("click", guard(signOut));
  el.newConversation.addEventListener("click", () => {
    conversationNew();
    el.input.focus();
  });
  el.composer.addEventListener("submit", messageSend);
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      messageSend();
    }
  });
  el.stop.addEventListener("click", replyStop);
  el.renameOpen.addEventListener("click", () => {
    const current = state.conversations.find((c) => c.id === state.currentId);
    el.renameInput.value = (current && current.title) || "";
    el.renameForm.hidden = false;
    el.actions.hidden = true;
    el.renameInput.focus();
  });
  el.renameCancel.addEventListener("click", () => {
    el.renameForm.hidden = true;
    el.actions.hidden = false;
    el.renameOpen.focus();
  });
  el.renameForm.addEventListener("submit", guard(conversationRename));
  el.deleteConversation.addEventListener("click", guard(conversationDelete));
  window.addEventListener("online", () => {
    if (session && !socket.ws) {
      clearTimeout(socket.timer);
      socket.timer = null;
      socketOpen();
    }
  });
})();
