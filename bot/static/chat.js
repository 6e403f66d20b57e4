// The web chat: sends each message to /api/chat (photos to /api/chat/photo) and shows
// the replies as bubbles. No library, nothing from outside this site.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var button = document.getElementById("send");
  var plus = document.getElementById("plus");
  var photo = document.getElementById("photo");
  var MAX_PHOTO = 5 * 1024 * 1024;
  var NETWORK_ERROR = "网络不好，消息没发出去，请再试一次。情况紧急请直接打110。";

  // A random id per browser, so the conversation (and a report form) continues.
  var sender = localStorage.getItem("hotline-sender");
  if (!sender) {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    sender = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    localStorage.setItem("hotline-sender", sender);
  }

  function row(who) {
    var r = document.createElement("div");
    r.className = "row " + who;
    var avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = who === "me" ? "我" : "盾";
    r.appendChild(avatar);
    return r;
  }

  function show(r) {
    log.appendChild(r);
    log.scrollTop = log.scrollHeight;
  }

  function bubble(text, who) {
    var r = row(who);
    var b = document.createElement("div");
    b.className = "bubble";
    b.textContent = text;  // never innerHTML: replies may quote what a user typed
    r.appendChild(b);
    show(r);
  }

  function photoBubble(file) {
    var r = row("me");
    var b = document.createElement("div");
    b.className = "bubble photo";
    var img = document.createElement("img");
    img.alt = "您发的照片";
    img.src = URL.createObjectURL(file);
    img.onload = function () { URL.revokeObjectURL(img.src); log.scrollTop = log.scrollHeight; };
    b.appendChild(img);
    r.appendChild(b);
    show(r);
  }

  function busy(on) {
    button.disabled = on;
    plus.disabled = on;
  }

  function post(url, options) {
    busy(true);
    return fetch(url, options).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    }).then(function (res) {
      if (res.status === 413) { throw new Error("photo-too-large"); }
      if (res.status === 415) { throw new Error("not-a-photo"); }
      if (!res.ok) { throw new Error(res.body.error || "error"); }
      res.body.replies.forEach(function (t) { bubble(t, "bot"); });
    }).catch(function (e) {
      var text = NETWORK_ERROR;
      if (e.message === "photo-too-large") { text = "照片太大了（超过5MB），请换一张小一点的再发。"; }
      if (e.message === "not-a-photo") { text = "这个文件不是照片。请直接拍二维码的照片发过来。"; }
      bubble(text, "bot error");
    }).finally(function () {
      busy(false);
    });
  }

  function send(text) {
    if (!text.trim()) { return; }
    bubble(text, "me");
    post("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, text: text })
    });
  }

  function sendPhoto(file) {
    photoBubble(file);
    if (file.size > MAX_PHOTO) {
      bubble("照片太大了（超过5MB），请换一张小一点的再发。", "bot error");
      return;
    }
    var data = new FormData();
    data.append("sender", sender);
    data.append("image", file, file.name || "photo.jpg");
    post("/api/chat/photo", { method: "POST", body: data });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });
  plus.addEventListener("click", function () { photo.click(); });
  photo.addEventListener("change", function () {
    if (photo.files && photo.files[0]) { sendPhoto(photo.files[0]); }
    photo.value = "";  // the same photo can be chosen again
  });
  document.querySelectorAll(".menu button").forEach(function (b) {
    b.addEventListener("click", function () { send(b.getAttribute("data-text")); });
  });
})();
