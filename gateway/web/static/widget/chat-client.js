// Handoff chat client: one visitor's conversation with the widget API, and its transcript.
//
// Shared by the embeddable widget (/widget.js serves this file followed by
// widget-launcher.js) and so by /demo, which embeds that widget. It knows the
// API and the transcript; it knows nothing of launchers, panels or shadow roots.
//
//   const chat = HandoffChat.create({apiBase, widgetKey, log, empty, onStatus, onMessage});
//   chat.start();          // session + transcript (a returning visitor continues)
//   chat.goLive();         // follow the conversation over the stream
//   chat.send("Hello");    // shown at once, posted with a client_id, retried
//   chat.send("Talk to an agent", {payload: "HANDOFF_TALK_TO_AGENT"});  // a quick reply
//   chat.reset();          // forget this visitor, start as a new one
//
// Session: POST /api/widget/<key>/session; the visitor token is kept in
// localStorage under a key namespaced by the widget key. Transcript:
// GET /api/widget/messages. Live: EventSource on /api/widget/stream?token=&after=,
// opened once the visitor has a conversation; the browser reconnects by itself
// (with Last-Event-ID), and when it gives up we reopen it, slower each time.
// Sending: POST /api/widget/messages with a client_id, so a retry (ours, after
// a network failure, or the visitor's) never makes a second message.
// Quick replies: a bot message may carry quick_replies [{title, payload}]; they
// are buttons under it while it is the newest message. A tap sends the title as
// the visitor's text with the payload, and the buttons go.
//
// Every text from the server is inserted with textContent, never as HTML.
(function (global) {
  "use strict";

  var TYPING_TIMEOUT_MS = 30000;
  var SEND_RETRY_DELAYS_MS = [1000, 3000];      // automatic retries, then a Retry button
  var SESSION_RETRY_MS = [2000, 5000, 15000, 60000];
  var STREAM_RETRY_MS = 2000;
  var STREAM_RETRY_MAX_MS = 60000;
  var QUICK_REPLY_LIMIT = 13;                    // as many as Messenger shows
  var TEXT_LIMIT = 4000;                         // what the API accepts
  var PAYLOAD_LIMIT = 1000;
  var SENDERS = { customer: "customer", bot: "bot", agent: "agent", system: "system" };
  var STATUS_TEXT = {
    connecting: "Connecting…",
    online: "Online · we usually answer at once",
    reconnecting: "Reconnecting…",
    offline: "Offline · retrying…",
    unavailable: "This chat is not available on this website.",
  };

  // --- errors ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, hint) {
      super(message);
      this.status = status;   // 0: the network failed, no answer
      this.hint = hint || "";
    }
    get retryable() {
      return this.status === 0 || this.status === 429 || this.status >= 500;
    }
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function newClientId() {
    var bytes = new Uint8Array(16);
    global.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // localStorage can be missing or throw (privacy modes, sandboxed frames): then
  // the token lives as long as the page.
  function visitorStorage(name) {
    var memory = null;
    return {
      get: function () {
        try { return global.localStorage.getItem(name); } catch (e) { return memory; }
      },
      set: function (value) {
        memory = value;
        try { global.localStorage.setItem(name, value); } catch (e) { /* memory only */ }
      },
      clear: function () {
        memory = null;
        try { global.localStorage.removeItem(name); } catch (e) { /* memory only */ }
      },
    };
  }

  function senderLabel(message) {
    if (message.sender === "customer") return "You";
    if (message.sender === "bot") return "Assistant";
    if (message.sender === "agent") return message.agent_name || "Support agent";
    return "";
  }

  // The well-formed quick replies of a message (the server's data, checked all the same).
  function quickRepliesOf(message) {
    if (message.sender !== "bot" || !Array.isArray(message.quick_replies)) return [];
    return message.quick_replies.filter(function (reply) {
      return reply && typeof reply.title === "string" && reply.title.trim() && reply.title.length <= TEXT_LIMIT
        && typeof reply.payload === "string" && reply.payload.length <= PAYLOAD_LIMIT;
    }).slice(0, QUICK_REPLY_LIMIT);
  }

  function timeOf(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // --- the client --------------------------------------------------------------------------

  function create(options) {
    var api = String(options.apiBase || "").replace(/\/+$/, "") + "/api/widget";
    var key = options.widgetKey;
    var log = options.log;
    var empty = options.empty || null;
    var doc = log.ownerDocument;
    var onStatus = options.onStatus || function () {};
    var onMessage = options.onMessage || function () {};
    var storage = visitorStorage("handoff.visitor." + key);

    var state;
    function freshState() {
      return {
        generation: (state ? state.generation : 0) + 1,  // a reset makes older callbacks moot
        token: null,
        ready: null,           // promise of the session
        conversationId: null,
        live: false,           // follow the conversation over the stream
        lastId: 0,             // the highest message id shown
        lastReplyId: 0,        // the highest id of a message not from the visitor
        lastAt: null,          // when the newest message was written
        agentName: null,       // the person who answers in this conversation, once one has
        agentConversationId: null,
        stream: null,
        streamRetryMs: STREAM_RETRY_MS,
        shown: new Map(),      // message id -> element
        pending: new Map(),    // client_id -> element of a message being sent
        typingTimer: null,
        status: "connecting",
      };
    }
    state = freshState();

    // --- status ----------------------------------------------------------------------------

    function setStatus(name, text) {
      state.status = name;
      if (!text && name === "online" && state.agentName) text = "Online · you're chatting with " + state.agentName;
      onStatus(name, text || STATUS_TEXT[name] || "");
    }

    // --- rendering ---------------------------------------------------------------------------

    function element(tag, className, text) {
      var node = doc.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function bubble(sender, labelText, text) {
      var item = element("li", "msg msg-" + sender);
      var meta = element("div", "msg-meta");
      meta.append(element("span", "msg-sender", labelText), element("time", "msg-time"));
      item.append(meta, element("div", "msg-text", text));
      return item;
    }

    function setNote(item, text, action) {
      var note = item.querySelector(".msg-note");
      if (!text) {
        if (note) note.remove();
        return;
      }
      if (!note) {
        note = element("div", "msg-note");
        item.append(note);
      }
      note.replaceChildren(element("span", "", text));
      if (action) {
        var button = element("button", "msg-retry", action.label);
        button.type = "button";
        button.addEventListener("click", action.run);
        note.append(" ", button);
      }
    }

    // Buttons under a bot message; a tap sends that reply (once: the buttons go).
    function quickReplyButtons(replies) {
      var group = element("div", "msg-actions");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Suggested replies");
      replies.forEach(function (reply) {
        var button = element("button", "quick-reply", reply.title.trim());
        button.type = "button";
        button.addEventListener("click", function () {
          if (!group.isConnected) return;
          group.remove();
          send(reply.title, { payload: reply.payload });
        });
        group.append(button);
      });
      return group;
    }

    // Quick replies answer the newest message only: once anything follows it
    // (the visitor's own message included), its buttons go for good.
    function retireQuickReplies() {
      var messages = log.querySelectorAll("li.msg");
      var newest = messages.length ? messages[messages.length - 1] : null;
      log.querySelectorAll(".msg-actions").forEach(function (group) {
        if (group.parentNode !== newest) group.remove();
      });
    }

    function scrollToEnd() {
      log.scrollTop = log.scrollHeight;
    }

    function hideEmpty() {
      if (empty && empty.isConnected) empty.remove();
    }

    // Confirmed messages sit in id order; messages still being sent stay last.
    function placeConfirmed(item, id) {
      var confirmed = log.querySelectorAll("li.msg[data-id]");
      for (var i = 0; i < confirmed.length; i++) {
        if (confirmed[i] !== item && Number(confirmed[i].dataset.id) > id) {
          log.insertBefore(item, confirmed[i]);
          return;
        }
      }
      log.insertBefore(item, log.querySelector("li.msg.pending, li.typing"));
    }

    function showMessage(message, source) {
      if (!message || typeof message.id !== "number" || state.shown.has(message.id)) return;
      hideEmpty();
      var sender = SENDERS[message.sender] || "system";
      var item = message.client_id ? state.pending.get(message.client_id) : null;
      if (item) {
        state.pending.delete(message.client_id);
        item.classList.remove("pending", "failed");
        setNote(item, null);
      } else {
        item = bubble(sender, senderLabel(message), message.text || (message.attachments && message.attachments.length
          ? "(an attachment)" : ""));
        var replies = quickRepliesOf(message);
        if (replies.length) item.append(quickReplyButtons(replies));
      }
      item.dataset.id = String(message.id);
      var time = item.querySelector(".msg-time");
      time.textContent = timeOf(message.created_at);
      time.dateTime = message.created_at || "";
      state.shown.set(message.id, item);
      state.lastId = Math.max(state.lastId, message.id);
      if (message.created_at) state.lastAt = new Date(message.created_at);
      if (message.conversation_id && message.conversation_id !== state.agentConversationId) {
        state.agentConversationId = message.conversation_id;
        state.agentName = null;  // a new conversation: the bot answers first again
      }
      if (sender === "agent") state.agentName = message.agent_name || "a support agent";
      placeConfirmed(item, message.id);
      retireQuickReplies();
      if (sender !== "customer") {
        state.lastReplyId = Math.max(state.lastReplyId, message.id);
        hideTyping();
      }
      if (state.status === "online") setStatus("online");
      scrollToEnd();
      onMessage(message, source);
    }

    function showTyping() {
      hideTyping();
      var item = element("li", "typing");
      item.setAttribute("role", "status");
      item.setAttribute("aria-label", (state.agentName || "The assistant") + " is typing");
      for (var i = 0; i < 3; i++) item.append(element("span"));
      log.append(item);
      state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
      scrollToEnd();
    }

    function hideTyping() {
      clearTimeout(state.typingTimer);
      var typing = log.querySelector("li.typing");
      if (typing) typing.remove();
    }

    // --- API -----------------------------------------------------------------------------------

    async function call(method, path, body) {
      var headers = { "Accept": "application/json" };
      if (state.token) headers["Authorization"] = "Bearer " + state.token;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      var response;
      try {
        response = await fetch(api + path, {
          method: method,
          headers: headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          mode: "cors",
          credentials: "omit",   // the visitor token is the only credential
          cache: "no-store",
        });
      } catch (error) {
        throw new ApiError("no connection", 0);
      }
      var data = await response.json().catch(function () { return {}; });
      if (!response.ok) {
        throw new ApiError(data.error || "HTTP " + response.status, response.status,
          data.details && data.details.hint);
      }
      return data;
    }

    function start() {
      if (!state.ready) state.ready = openSession(state.generation, 0);
      return state.ready;
    }

    async function openSession(generation, attempt) {
      setStatus("connecting");
      var saved = storage.get();
      state.token = null;
      try {
        var data = await call("POST", "/" + encodeURIComponent(key) + "/session",
          saved ? { visitor_token: saved } : {});
        if (generation !== state.generation) return;
        state.token = data.visitor_token;
        storage.set(data.visitor_token);
        await loadTranscript(generation);
        if (generation !== state.generation) return;
        followConversation(data.conversation_id);
        setStatus("online");
      } catch (error) {
        if (generation !== state.generation) return;
        if (error.status === 403 || error.status === 404) {
          // Not a passing failure: this site is not allowed, or the key is wrong.
          if (global.console) console.warn("Handoff chat: " + error.message + (error.hint ? " (" + error.hint + ")" : ""));
          setStatus("unavailable");
          throw error;
        }
        if (error.status === 401) storage.clear();
        var delay = SESSION_RETRY_MS[Math.min(attempt, SESSION_RETRY_MS.length - 1)];
        setStatus("offline", "Cannot reach the chat (" + error.message + "). Retrying…");
        await wait(delay);
        if (generation !== state.generation) return;
        return openSession(generation, attempt + 1);
      }
    }

    async function loadTranscript(generation) {
      for (;;) {
        var data = await call("GET", "/messages?after=" + state.lastId);
        if (generation !== state.generation) return;
        data.messages.forEach(function (message) { showMessage(message, "transcript"); });
        if (!data.has_more) return;
      }
    }

    // options.payload: what a quick reply means, sent along with its title as text.
    function send(text, options) {
      text = String(text || "").trim();
      if (!text) return false;
      var payload = options && typeof options.payload === "string" ? options.payload : null;
      hideEmpty();
      var clientId = newClientId();
      var item = bubble("customer", "You", text);
      item.classList.add("pending");
      item.dataset.clientId = clientId;
      state.pending.set(clientId, item);
      log.insertBefore(item, log.querySelector("li.typing"));
      retireQuickReplies();
      scrollToEnd();
      state.live = true;
      var body = { text: text, client_id: clientId };
      if (payload !== null) body.payload = payload;
      deliver(body, item, state.generation);
      return true;
    }

    // body: {text, client_id, payload}; resent as it is, so a retry is never a second message.
    async function deliver(body, item, generation) {
      item.classList.remove("failed");
      item.classList.add("pending");
      setNote(item, "Sending…");
      var renewed = false;
      var data;
      for (var attempt = 0; ; attempt++) {
        try {
          await start();
          if (generation !== state.generation) return;
          data = await call("POST", "/messages", body);
          break;
        } catch (error) {
          if (generation !== state.generation) return;
          if (error.status === 401 && !renewed) {
            // The token expired (or the server's key changed): continue as a new visitor.
            renewed = true;
            storage.clear();
            state.ready = null;
            continue;
          }
          if (error.retryable && attempt < SEND_RETRY_DELAYS_MS.length) {
            setNote(item, "Sending… (retrying)");
            await wait(SEND_RETRY_DELAYS_MS[attempt]);
            if (generation !== state.generation) return;
            continue;
          }
          item.classList.remove("pending");
          item.classList.add("failed");
          var retry = { label: "Retry", run: function () { deliver(body, item, state.generation); } };
          if (error.status === 403 || error.status === 404) setNote(item, "Not sent: this chat is not available here.");
          else if (error.retryable) setNote(item, "Not sent.", retry);
          else setNote(item, "Not sent: " + error.message);
          return;
        }
      }
      showMessage(data, "sent");
      followConversation(data.conversation_id);
      // Unless the reply came first, or a person answers here (who writes when they write).
      if (state.lastReplyId < data.id && !state.agentName) showTyping();
    }

    // --- live stream -----------------------------------------------------------------------------

    function followConversation(conversationId) {
      if (!conversationId) return;
      if (conversationId !== state.conversationId) {
        state.conversationId = conversationId;
        if (state.stream) state.stream.close();
        state.stream = null;
      }
      if (state.live && !state.stream) openStream();
    }

    function openStream() {
      if (state.stream) state.stream.close();
      var url = api + "/stream?token=" + encodeURIComponent(state.token) + "&after=" + state.lastId;
      var stream = new EventSource(url);
      state.stream = stream;
      stream.onopen = function () {
        state.streamRetryMs = STREAM_RETRY_MS;
        setStatus("online");
      };
      stream.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        showMessage(message, "stream");
      };
      stream.onerror = function () {
        if (state.stream !== stream) return;
        if (stream.readyState !== EventSource.CLOSED) {
          setStatus("reconnecting");  // the browser retries by itself, with Last-Event-ID
          return;
        }
        // Refused (a server error, an expired token): reopen ourselves, slower each time.
        setStatus("offline");
        var delay = state.streamRetryMs;
        state.streamRetryMs = Math.min(state.streamRetryMs * 2, STREAM_RETRY_MAX_MS);
        setTimeout(function () { if (state.stream === stream) openStream(); }, delay);
      };
    }

    function goLive() {
      state.live = true;
      if (state.conversationId && state.token && !state.stream) openStream();
    }

    // --- lifecycle -------------------------------------------------------------------------------

    function stop() {
      if (state.stream) state.stream.close();
      clearTimeout(state.typingTimer);
    }

    function reset() {
      stop();
      storage.clear();
      var live = state.live;
      state = freshState();
      state.live = live;
      log.replaceChildren();
      if (empty) log.append(empty);
      return start();
    }

    return {
      start: start,
      goLive: goLive,
      send: send,
      reset: reset,
      stop: stop,
      hasSavedVisitor: function () { return Boolean(storage.get()); },
      lastMessageAt: function () { return state.lastAt; },
      status: function () { return state.status; },
    };
  }

  global.HandoffChat = { create: create, statusText: STATUS_TEXT };
})(typeof window !== "undefined" ? window : this);
