// Handoff web chat widget: a launcher button and a chat panel on the business's own site.
//
// The business pastes:  <script src="https://support.example.net/widget.js" data-key="wk_…" async></script>
// /widget.js is chat-client.js (window.HandoffChat) followed by this file.
//
// Optional attributes on that tag: data-title="Acme support" (the panel's heading),
// data-color="#0a7d4f" (the brand color). The API is the origin (and folder) the
// script came from, so the widget works on any site. Everything is drawn in a
// shadow root with its own styles: the page's CSS cannot break the widget, and
// ours cannot leak into the page. No markup is ever parsed from a string: elements are built
// one by one, and every text from the server is set with textContent.
//
// The page may drive it: window.HandoffWidget.open({text: "…"}), .close(), .reset();
// window fires "handoff:ready" once it is there.
(function (global) {
  "use strict";

  var doc = global.document;
  var script = doc.currentScript || lastWidgetScript();
  var ACTIVE_CONVERSATION_MS = 30 * 60 * 1000;  // a returning visitor's chat followed live at once
  var TEXT_LIMIT = 4000;
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM7 9h10v2H7zm0-3h10v2H7zm0 6h7v2H7z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.39 10.2 15 12 3.39 13.8z",
  };

  var CSS = [
    // The host element is in the page: whatever the page says about it, ours wins
    // (!important from inside a shadow root beats the page's !important).
    ":host { all: initial !important; }",
    ".hc { --hc-brand: #2f5bea; --hc-brand-ink: #ffffff; --hc-ink: #1d2433; --hc-muted: #5d6778;",
    "  --hc-line: #e3e7ee; --hc-bg: #ffffff; --hc-bot: #eef1f7; --hc-agent: #e3f5ea; --hc-danger: #b42318;",
    "  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;",
    "  color: var(--hc-ink); color-scheme: light; text-align: left; direction: ltr; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    "button, textarea { font: inherit; color: inherit; letter-spacing: normal; text-transform: none; }",
    "button { cursor: pointer; }",
    ":focus-visible { outline: 3px solid #f5a524; outline-offset: 2px; }",
    "svg { display: block; fill: currentColor; }",

    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 58px; height: 58px;",
    "  margin: 0; padding: 0; border: 0; border-radius: 50%; display: grid; place-items: center;",
    "  background: var(--hc-brand); color: var(--hc-brand-ink);",
    "  box-shadow: 0 6px 20px rgba(29, 36, 51, 0.28); transition: transform 0.15s ease; }",
    ".launcher:hover { transform: scale(1.06); }",
    ".launcher svg { width: 28px; height: 28px; }",
    ".launcher .icon-close, .hc.open .launcher .icon-chat { display: none; }",
    ".hc.open .launcher .icon-close { display: block; }",
    ".badge { position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px;",
    "  border-radius: 11px; border: 2px solid #fff; background: #d92d20; color: #fff;",
    "  font-size: 12px; font-weight: 700; line-height: 18px; text-align: center; }",

    ".panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 376px;",
    "  max-width: calc(100vw - 40px); height: 600px; max-height: calc(100vh - 112px); margin: 0;",
    "  display: flex; flex-direction: column; overflow: hidden; background: var(--hc-bg);",
    "  border-radius: 16px; box-shadow: 0 18px 50px rgba(29, 36, 51, 0.25), 0 0 0 1px rgba(29, 36, 51, 0.06);",
    "  animation: hc-open 0.18s ease-out; }",
    "@keyframes hc-open { from { opacity: 0; transform: translateY(12px) scale(0.98); } to { opacity: 1; transform: none; } }",

    ".chat-header { display: flex; align-items: center; gap: 12px; padding: 14px 10px 14px 16px;",
    "  background: var(--hc-brand); color: var(--hc-brand-ink); }",
    ".avatar { flex: none; width: 38px; height: 38px; border-radius: 50%; display: grid; place-items: center;",
    "  font-weight: 700; font-size: 16px; background: rgba(255, 255, 255, 0.22); }",
    ".chat-title { flex: 1; min-width: 0; }",
    ".chat-title h2 { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.3; color: inherit;",
    "  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }",
    ".chat-status { margin: 0; font-size: 12px; line-height: 1.4; opacity: 0.9; }",
    ".icon-button { flex: none; width: 36px; height: 36px; margin: 0; padding: 0; border: 0; border-radius: 8px;",
    "  display: grid; place-items: center; background: transparent; color: inherit; }",
    ".icon-button:hover { background: rgba(255, 255, 255, 0.16); }",
    ".icon-button svg { width: 20px; height: 20px; }",

    ".chat-log { flex: 1; margin: 0; padding: 16px 14px; list-style: none; overflow-y: auto;",
    "  display: flex; flex-direction: column; gap: 10px; background: #fbfcfe; overscroll-behavior: contain; }",
    ".chat-empty { margin: auto; max-width: 260px; text-align: center; color: var(--hc-muted); font-size: 14px; }",
    ".msg { display: flex; flex-direction: column; gap: 2px; max-width: 85%; margin: 0; padding: 0; }",
    ".msg-meta { display: flex; gap: 8px; padding: 0 4px; font-size: 11px; color: var(--hc-muted); }",
    ".msg-sender { font-weight: 600; }",
    ".msg-text { display: block; padding: 9px 13px; border-radius: 14px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; color: var(--hc-ink); font-size: 14px; }",
    ".msg-customer { align-self: flex-end; align-items: flex-end; }",
    ".msg-customer .msg-text { background: var(--hc-brand); color: var(--hc-brand-ink); border-bottom-right-radius: 4px; }",
    ".msg-bot, .msg-agent { align-self: flex-start; }",
    ".msg-bot .msg-text { background: var(--hc-bot); border-bottom-left-radius: 4px; }",
    ".msg-agent .msg-text { background: var(--hc-agent); border-bottom-left-radius: 4px; }",
    ".msg-agent .msg-sender { color: #137a43; }",
    ".msg-system { align-self: center; max-width: 95%; text-align: center; }",
    ".msg-system .msg-meta { display: none; }",
    ".msg-system .msg-text { padding: 2px 8px; background: none; color: var(--hc-muted); font-size: 13px; font-style: italic; }",
    ".msg.pending .msg-text { opacity: 0.65; }",
    ".msg.failed .msg-text { background: #fbe9e7; color: var(--hc-danger); }",
    ".msg-note { padding: 0 4px; font-size: 11px; color: var(--hc-muted); }",
    ".msg.failed .msg-note { color: var(--hc-danger); }",
    ".msg-retry { margin: 0 0 0 4px; padding: 0 8px; border: 1px solid currentColor; border-radius: 6px;",
    "  background: #fff; color: var(--hc-danger); font-size: 11px; font-weight: 600; line-height: 18px; }",
    ".msg-actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 0; padding: 0; }",
    ".quick-reply { margin: 0; padding: 6px 12px; border: 1px solid var(--hc-brand); border-radius: 16px;",
    "  background: #fff; color: var(--hc-brand); font-size: 13px; font-weight: 600; line-height: 18px;",
    "  text-align: left; white-space: normal; overflow-wrap: anywhere; }",
    ".quick-reply:hover { background: var(--hc-brand); color: var(--hc-brand-ink); }",
    ".typing { align-self: flex-start; display: flex; gap: 4px; margin: 0; padding: 12px 14px;",
    "  background: var(--hc-bot); border-radius: 14px; border-bottom-left-radius: 4px; }",
    ".typing span { width: 6px; height: 6px; border-radius: 50%; background: var(--hc-muted);",
    "  animation: hc-typing 1.2s infinite ease-in-out; }",
    ".typing span:nth-child(2) { animation-delay: 0.15s; }",
    ".typing span:nth-child(3) { animation-delay: 0.3s; }",
    "@keyframes hc-typing { 0%, 80%, 100% { opacity: 0.25; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-3px); } }",

    ".chat-form { display: flex; align-items: flex-end; gap: 8px; margin: 0; padding: 10px 12px;",
    "  border-top: 1px solid var(--hc-line); background: var(--hc-bg); }",
    ".chat-form textarea { flex: 1; min-width: 0; height: 40px; max-height: 120px; margin: 0; padding: 9px 12px;",
    "  border: 1px solid var(--hc-line); border-radius: 10px; background: #fff; color: var(--hc-ink);",
    "  font-size: 14px; line-height: 20px; resize: none; outline: none; }",
    ".chat-form textarea:focus { border-color: var(--hc-brand); box-shadow: 0 0 0 3px rgba(47, 91, 234, 0.15); }",
    ".chat-form textarea::placeholder { color: #8a93a3; }",
    ".send { flex: none; width: 40px; height: 40px; margin: 0; padding: 0; border: 0; border-radius: 10px;",
    "  display: grid; place-items: center; background: var(--hc-brand); color: var(--hc-brand-ink); }",
    ".send:hover { filter: brightness(1.08); }",
    ".send svg { width: 20px; height: 20px; }",
    ".footer { margin: 0; padding: 0 12px 8px; background: var(--hc-bg); text-align: center; font-size: 11px; color: #8a93a3; }",

    // Phones: the panel is the whole screen, and its own close button replaces the launcher.
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; max-width: none; height: 100%; max-height: none; border-radius: 0; }",
    "  .hc.open .launcher { display: none; }",
    "  .chat-form textarea { font-size: 16px; }",  // no zoom on focus (iOS)
    "}",
    "@media (prefers-reduced-motion: reduce) { .panel, .typing span, .launcher { animation: none; transition: none; } }",
  ].join("\n");

  function lastWidgetScript() {
    var found = doc.querySelectorAll('script[src*="widget.js"][data-key]');
    return found.length ? found[found.length - 1] : null;
  }

  function warn(text) {
    if (global.console) global.console.warn("Handoff chat: " + text);
  }

  if (!script || !script.src) return warn("cannot find its <script> tag");
  var key = script.getAttribute("data-key");
  if (!key) return warn('the <script> tag needs data-key="wk_…" (handoff channel add web prints it)');
  if (!global.HandoffChat) return warn("the chat client is missing");
  // A second copy of the snippet (a template included twice, a SPA re-inserting it) adds nothing.
  if (global.__handoffWidgetKey) return warn("the widget is on this page already (" + global.__handoffWidgetKey + ")");
  global.__handoffWidgetKey = key;
  // The API lives where the script came from (an origin, or a folder behind a proxy).
  var apiBase = new URL(".", script.src).href.replace(/\/+$/, "");
  var title = (script.getAttribute("data-title") || "").trim() || "Chat with us";
  var color = (script.getAttribute("data-color") || "").trim();
  var openStateKey = "handoff.open." + key;

  // --- building blocks -----------------------------------------------------------------

  function h(tag, attributes, children) {
    var node = doc.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes.text;
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { node.append(child); });
    return node;
  }

  function icon(name, className) {
    var svg = doc.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    if (className) svg.setAttribute("class", className);
    var path = doc.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  // Constructed style sheets obey a strict Content-Security-Policy (style-src 'self');
  // a <style> element is the fallback for browsers without them.
  function adoptStyles(shadow) {
    try {
      if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
        return;
      }
    } catch (e) { /* below */ }
    shadow.append(h("style", { text: CSS }));
  }

  // Whether the panel is open follows the visitor from page to page of the site (this tab only).
  function wasOpen() {
    try { return global.sessionStorage.getItem(openStateKey) === "1"; } catch (e) { return false; }
  }

  function rememberOpen(open) {
    try {
      if (open) global.sessionStorage.setItem(openStateKey, "1");
      else global.sessionStorage.removeItem(openStateKey);
    } catch (e) { /* not kept across pages */ }
  }

  // --- the widget ------------------------------------------------------------------------

  function mount() {
    var host = doc.createElement("handoff-chat");
    if (!host.attachShadow) return warn("this browser is too old for the chat");
    var shadow = host.attachShadow({ mode: "open" });
    adoptStyles(shadow);

    var badge = h("span", { "class": "badge", "aria-hidden": "true", hidden: "" });
    var launcher = h("button", {
      type: "button", "class": "launcher", "aria-label": "Open chat", "aria-expanded": "false",
      "aria-controls": "chat-panel", "aria-haspopup": "dialog",
    }, [icon("chat", "icon-chat"), icon("close", "icon-close"), badge]);

    var statusLine = h("p", { "class": "chat-status", id: "chat-status", role: "status", text: "Connecting…" });
    var closeButton = h("button", { type: "button", "class": "icon-button close", "aria-label": "Close chat" },
      [icon("close")]);
    var empty = h("li", { "class": "chat-empty", id: "chat-empty",
      text: "Hi! Ask us anything. A person takes over if the assistant can't help." });
    var log = h("ol", { "class": "chat-log", id: "chat-log", role: "log", "aria-label": "Messages", tabindex: "0" },
      [empty]);
    var input = h("textarea", {
      id: "chat-input", rows: "1", maxlength: String(TEXT_LIMIT), "aria-label": "Your message",
      placeholder: "Type your message…", autocomplete: "off",
    });
    var sendButton = h("button", { type: "submit", "class": "send", id: "chat-send", "aria-label": "Send message" },
      [icon("send")]);
    var form = h("form", { "class": "chat-form", id: "chat-form" }, [input, sendButton]);
    var panel = h("section", {
      "class": "panel", id: "chat-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "chat-title", "aria-describedby": "chat-status", hidden: "",
    }, [
      h("header", { "class": "chat-header" }, [
        h("div", { "class": "avatar", "aria-hidden": "true", text: title.charAt(0).toUpperCase() }),
        h("div", { "class": "chat-title" }, [h("h2", { id: "chat-title", text: title }), statusLine]),
        closeButton,
      ]),
      log,
      form,
      h("p", { "class": "footer", text: "Powered by Handoff" }),
    ]);
    var root = h("div", { "class": "hc", "data-status": "connecting" }, [panel, launcher]);
    if (color && global.CSS && global.CSS.supports && global.CSS.supports("color", color)) {
      root.style.setProperty("--hc-brand", color);
    }
    shadow.append(root);

    var isOpen = false;
    var unread = 0;

    var chat = global.HandoffChat.create({
      apiBase: apiBase,
      widgetKey: key,
      log: log,
      empty: empty,
      onStatus: function (name, text) {
        statusLine.textContent = text;
        root.setAttribute("data-status", name);
      },
      onMessage: function (message, source) {
        if (isOpen || source === "transcript" || message.sender === "customer") return;
        unread += 1;
        showUnread();
      },
    });

    function showUnread() {
      badge.textContent = unread > 9 ? "9+" : String(unread);
      badge.hidden = unread === 0;
      launcher.setAttribute("aria-label", isOpen ? "Close chat"
        : unread ? "Open chat, " + unread + " new message" + (unread === 1 ? "" : "s") : "Open chat");
    }

    function autosize() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
    }

    function open(options) {
      options = options || {};
      if (!isOpen) {
        isOpen = true;
        panel.hidden = false;
        root.classList.add("open");
        launcher.setAttribute("aria-expanded", "true");
        unread = 0;
        showUnread();
        rememberOpen(true);
        log.scrollTop = log.scrollHeight;
      }
      chat.start().catch(function () { /* the status line says it */ });
      chat.goLive();
      if (typeof options.text === "string") {
        input.value = options.text.slice(0, TEXT_LIMIT);
        autosize();
      }
      if (options.focus !== false) input.focus();
    }

    function close() {
      if (!isOpen) return;
      var focusInside = panel.contains(shadow.activeElement);
      isOpen = false;
      panel.hidden = true;
      root.classList.remove("open");
      launcher.setAttribute("aria-expanded", "false");
      showUnread();
      rememberOpen(false);
      if (focusInside) launcher.focus();
    }

    function submit() {
      if (chat.send(input.value)) {
        input.value = "";
        autosize();
      }
      input.focus();
    }

    launcher.addEventListener("click", function () { if (isOpen) close(); else open(); });
    closeButton.addEventListener("click", close);
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen) {
        event.stopPropagation();
        close();
      }
    });
    // A quick reply was tapped (its buttons are gone): the focus goes on to the message box.
    log.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest(".quick-reply")) input.focus();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", autosize);

    doc.body.append(host);

    if (wasOpen()) {
      open({ focus: false });  // the visitor had it open on the previous page
    } else if (chat.hasSavedVisitor()) {
      // A returning visitor: their transcript, and live replies if they were chatting lately.
      chat.start().then(function () {
        var at = chat.lastMessageAt();
        if (at && Date.now() - at.getTime() < ACTIVE_CONVERSATION_MS) chat.goLive();
      }).catch(function () { /* the status line says it */ });
    }

    var widget = {
      key: key,
      open: open,
      close: close,
      toggle: function () { if (isOpen) close(); else open(); },
      isOpen: function () { return isOpen; },
      reset: function () { return chat.reset().catch(function () { /* the status line says it */ }); },
    };
    global.HandoffWidget = widget;
    var ready;
    try {
      ready = new CustomEvent("handoff:ready", { detail: widget });
    } catch (e) {
      ready = doc.createEvent("CustomEvent");
      ready.initCustomEvent("handoff:ready", false, false, widget);
    }
    global.dispatchEvent(ready);
  }

  if (doc.body) mount();
  else doc.addEventListener("DOMContentLoaded", mount);
})(window);
