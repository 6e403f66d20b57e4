// The web chat: sends each message to /api/chat and shows the replies as bubbles.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var button = document.getElementById("send");

  // A random id per browser, so the conversation (and a report form) continues.
  var sender = localStorage.getItem("hotline-sender");
  if (!sender) {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    sender = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    localStorage.setItem("hotline-sender", sender);
  }

  function bubble(text, who) {
    var row = document.createElement("div");
    row.className = "row " + who;
    var avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = who === "me" ? "我" : "盾";
    var b = document.createElement("div");
    b.className = "bubble";
    b.textContent = text;  // never innerHTML: replies may quote what a user typed
    row.appendChild(avatar);
    row.appendChild(b);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }

  function send(text) {
    if (!text.trim()) { return; }
    bubble(text, "me");
    button.disabled = true;
    fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, text: text })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.body.error || "error"); }
      res.body.replies.forEach(function (t) { bubble(t, "bot"); });
    }).catch(function () {
      bubble("网络不好，消息没发出去，请再试一次。情况紧急请直接打110。", "bot error");
    }).finally(function () {
      button.disabled = false;
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });
  document.querySelectorAll(".menu button").forEach(function (b) {
    b.addEventListener("click", function () { send(b.getAttribute("data-text")); });
  });
})();
