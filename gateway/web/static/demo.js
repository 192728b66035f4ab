// The /demo chat box: a small client of the widget API (fetch + EventSource).
//
// Session: POST /api/widget/<key>/session with the token kept in localStorage.
// Transcript: GET /api/widget/messages. Live: EventSource on /api/widget/stream,
// opened once the visitor has a conversation. Sending: POST /api/widget/messages
// with a client_id, so a retry after a network failure never duplicates.
// Every text from the server is inserted with textContent, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("chat");
  if (!root) return;

  const key = root.dataset.widgetKey;
  const api = "/api/widget";
  const storageKey = "handoff.visitor." + key;
  const log = document.getElementById("chat-log");
  const empty = document.getElementById("chat-empty");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const statusLine = document.getElementById("chat-status");
  const TYPING_TIMEOUT_MS = 30000;

  const state = {
    token: null,
    conversationId: null,
    lastId: 0,            // the highest message id shown
    lastReplyId: 0,       // the highest id of a message not from the visitor
    stream: null,
    streamRetryMs: 2000,
    shown: new Map(),     // message id -> element
    pending: new Map(),   // client_id -> element of a message being sent
    typingTimer: null,
  };

  // --- rendering -------------------------------------------------------------------

  function setStatus(text) {
    statusLine.textContent = text;
  }

  function senderLabel(message) {
    if (message.sender === "customer") return "You";
    if (message.sender === "bot") return "Assistant";
    if (message.sender === "agent") return message.agent_name || "Support agent";
    return "";
  }

  function timeOf(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function bubble(sender, labelText, text) {
    const item = document.createElement("li");
    item.className = "msg msg-" + sender;
    const meta = document.createElement("div");
    meta.className = "msg-meta";
    const label = document.createElement("span");
    label.className = "msg-sender";
    label.textContent = labelText;
    const time = document.createElement("time");
    time.className = "msg-time";
    meta.append(label, time);
    const body = document.createElement("div");
    body.className = "msg-text";
    body.textContent = text;
    item.append(meta, body);
    return item;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function hideEmpty() {
    if (empty.isConnected) empty.remove();
  }

  // Confirmed messages sit in id order; messages still being sent stay last.
  function placeConfirmed(item, id) {
    for (const other of log.querySelectorAll("li.msg[data-id]")) {
      if (Number(other.dataset.id) > id) {
        log.insertBefore(item, other);
        return;
      }
    }
    const firstPending = log.querySelector("li.msg.pending, li.typing");
    log.insertBefore(item, firstPending);
  }

  function showMessage(message) {
    if (state.shown.has(message.id)) return;
    hideEmpty();
    let item = message.client_id ? state.pending.get(message.client_id) : null;
    if (item) {
      state.pending.delete(message.client_id);
      item.classList.remove("pending", "failed");
      item.querySelector(".msg-note")?.remove();
      item.onclick = null;
    } else {
      item = bubble(message.sender, senderLabel(message), message.text);
    }
    item.dataset.id = String(message.id);
    item.querySelector(".msg-time").textContent = timeOf(message.created_at);
    item.querySelector(".msg-time").dateTime = message.created_at;
    state.shown.set(message.id, item);
    state.lastId = Math.max(state.lastId, message.id);
    placeConfirmed(item, message.id);
    if (message.sender !== "customer") {
      state.lastReplyId = Math.max(state.lastReplyId, message.id);
      hideTyping();
    }
    scrollToEnd();
  }

  function showTyping() {
    hideTyping();
    const item = document.createElement("li");
    item.className = "typing";
    item.setAttribute("aria-label", "The assistant is typing");
    for (let i = 0; i < 3; i++) item.append(document.createElement("span"));
    log.append(item);
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollToEnd();
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    log.querySelector("li.typing")?.remove();
  }

  function markFailed(item, note, retry) {
    item.classList.add("failed");
    let noteEl = item.querySelector(".msg-note");
    if (!noteEl) {
      noteEl = document.createElement("div");
      noteEl.className = "msg-note";
      item.append(noteEl);
    }
    noteEl.textContent = note;
    item.onclick = retry;
  }

  // --- API -------------------------------------------------------------------------

  class SessionExpired extends Error {}

  async function call(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) throw new SessionExpired("session expired");
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error || "HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return { status: response.status, data };
  }

  async function startSession() {
    setStatus("Connecting…");
    const saved = localStorage.getItem(storageKey);
    state.token = null;
    const { data } = await call("POST", "/" + encodeURIComponent(key) + "/session",
      saved ? { visitor_token: saved } : {});
    state.token = data.visitor_token;
    localStorage.setItem(storageKey, data.visitor_token);
    await loadTranscript();
    followConversation(data.conversation_id);
    setStatus("Online · we usually answer at once");
  }

  async function loadTranscript() {
    for (;;) {
      const { data } = await call("GET", "/messages?after=" + state.lastId);
      data.messages.forEach(showMessage);
      if (!data.has_more) return;
    }
  }

  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function send(text, clientId, item) {
    item.classList.remove("failed");
    item.querySelector(".msg-note")?.remove();
    item.onclick = null;
    try {
      const { data } = await call("POST", "/messages", { text, client_id: clientId });
      showMessage(data);
      followConversation(data.conversation_id);
      if (state.lastReplyId < data.id) showTyping();  // unless the reply came first
    } catch (error) {
      if (error instanceof SessionExpired) {
        markFailed(item, "Your session expired. Reload the page to continue.", null);
      } else if (error.status && error.status < 500) {
        markFailed(item, "Not sent: " + error.message, null);
      } else {
        markFailed(item, "Not sent. Click to retry.", () => send(text, clientId, item));
      }
    }
  }

  // --- live stream -----------------------------------------------------------------

  function followConversation(conversationId) {
    if (!conversationId || conversationId === state.conversationId) return;
    state.conversationId = conversationId;
    openStream();
  }

  function openStream() {
    if (state.stream) state.stream.close();
    const url = api + "/stream?token=" + encodeURIComponent(state.token) + "&after=" + state.lastId;
    const stream = new EventSource(url);
    state.stream = stream;
    stream.onopen = () => {
      state.streamRetryMs = 2000;
      setStatus("Online · we usually answer at once");
    };
    stream.onmessage = (event) => showMessage(JSON.parse(event.data));
    stream.onerror = () => {
      if (stream.readyState !== EventSource.CLOSED) {
        setStatus("Reconnecting…");  // the browser retries by itself, with Last-Event-ID
        return;
      }
      // Refused (a server error, an expired token): retry ourselves, slower each time.
      setStatus("Offline · retrying…");
      setTimeout(() => { if (state.stream === stream) openStream(); }, state.streamRetryMs);
      state.streamRetryMs = Math.min(state.streamRetryMs * 2, 60000);
    };
  }

  // --- wiring ----------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !state.token) return;
    input.value = "";
    autosize();
    hideEmpty();
    const clientId = newClientId();
    const item = bubble("customer", "You", text);
    item.classList.add("pending");
    item.dataset.clientId = clientId;
    state.pending.set(clientId, item);
    log.insertBefore(item, log.querySelector("li.typing"));
    scrollToEnd();
    send(text, clientId, item);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }
  input.addEventListener("input", autosize);

  document.querySelectorAll("[data-topic]").forEach((button) => {
    button.addEventListener("click", () => {
      input.value = button.dataset.topic;
      autosize();
      input.focus();
    });
  });

  document.getElementById("chat-reset").addEventListener("click", () => {
    localStorage.removeItem(storageKey);
    if (state.stream) state.stream.close();
    state.stream = null;
    state.conversationId = null;
    state.lastId = 0;
    state.lastReplyId = 0;
    state.shown.clear();
    state.pending.clear();
    log.replaceChildren(empty);
    begin();
  });

  function begin() {
    startSession().catch((error) => {
      if (error instanceof SessionExpired) {
        localStorage.removeItem(storageKey);
      }
      setStatus("Cannot reach the chat (" + error.message + "). Retrying…");
      setTimeout(begin, 5000);
    });
  }

  begin();
})();
