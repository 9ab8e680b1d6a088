// The account page: lists notifications as they arrive on the notifications websocket (reconnecting
// after a drop). A new API key (shown once) and the confirmations are shown_once.js's.
(function () {
  "use strict";

  const list = document.getElementById("notifications");
  if (!list) return;
  const empty = document.getElementById("notifications-empty");
  const state = document.getElementById("notifications-state");
  const seen = new Set(Array.from(list.children, (item) => item.dataset.id));
  const KEEP = 50;
  let delay = 1000;

  function isLocal(link) {  // a path on this site; the server only sends those, the page checks anyway
    return typeof link === "string" && link.startsWith("/") && !link.startsWith("//") && !link.includes("\\");
  }

  function span(className, text) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function item(notification) {
    const li = document.createElement("li");
    li.dataset.id = String(notification.id);
    const meta = span("notification-meta", "");
    const time = document.createElement("time");
    time.dateTime = notification.created_at;
    time.textContent = String(notification.created_at).slice(0, 16).replace("T", " ");  // UTC, as the server writes it
    const kind = String(notification.kind || "").replace(/_/g, " ");
    meta.append(time, " · " + kind.charAt(0).toUpperCase() + kind.slice(1));
    let message = span("notification-message", notification.message || "");
    if (isLocal(notification.link)) {
      message = document.createElement("a");
      message.className = "notification-message";
      message.href = notification.link;
      message.textContent = notification.message || "";
    }
    li.append(meta, " ", message);
    return li;
  }

  function show(notification) {
    if (!notification || notification.type !== "notification" || seen.has(String(notification.id))) return;
    seen.add(String(notification.id));
    list.prepend(item(notification));
    while (list.children.length > KEEP) list.lastElementChild.remove();
    empty.hidden = true;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(scheme + "://" + window.location.host + list.dataset.socketPath);
    socket.onopen = () => {
      delay = 1000;
      list.dataset.state = "live";
      state.textContent = "Live: finished jobs, failed jobs and sales of your models appear here as they happen.";
    };
    socket.onmessage = (message) => {
      try { show(JSON.parse(message.data)); } catch (error) { /* not a notification */ }
    };
    socket.onclose = (event) => {
      list.dataset.state = "closed";
      if (event.code === 4401) { state.textContent = "Signed out: reload the page to see new notifications."; return; }
      state.textContent = "Reconnecting to live notifications…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
