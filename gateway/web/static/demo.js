// The /demo page's own buttons. The chat itself is the real widget (/widget.js,
// which embeds the shared chat client), exactly as a business's site shows it;
// these buttons only drive it through window.HandoffWidget.
(function () {
  "use strict";

  // The widget loads async: use it now, or once it announces itself.
  function withWidget(use) {
    if (window.HandoffWidget) use(window.HandoffWidget);
    else window.addEventListener("handoff:ready", function (event) { use(event.detail); }, { once: true });
  }

  var openButton = document.getElementById("open-chat");
  if (openButton) {
    openButton.addEventListener("click", function () {
      withWidget(function (widget) { widget.open(); });
    });
  }

  // A topic opens the chat with the question ready to send.
  document.querySelectorAll("[data-topic]").forEach(function (button) {
    button.addEventListener("click", function () {
      withWidget(function (widget) { widget.open({ text: button.dataset.topic }); });
    });
  });

  var resetButton = document.getElementById("chat-reset");
  if (resetButton) {
    resetButton.addEventListener("click", function () {
      withWidget(function (widget) { widget.reset(); });
    });
  }
})();
