/* Duty console / responder page: poll the alarm feed every 500 ms with a cursor (the feed reads the
   database, so a press committed by any process shows up here), swap in the cards that changed,
   ring for new ones (WebAudio, no sound file), tick the elapsed timers every second. */
(function () {
  "use strict";
  var root = document.querySelector("[data-feed]");
  if (!root) return;
  var list = document.getElementById("alarm-list");
  var empty = document.getElementById("alarm-empty");
  var live = document.getElementById("live");
  var cursor = parseInt(root.dataset.cursor || "0", 10);
  var view = root.dataset.view || "console";
  var INTERVAL = 500;
  var audio = null;
  var soundOn = false;
  var deferred = {};
  var lastOk = Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function elapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }
  var skew = 0;  // server clock minus browser clock, so timers count from the server's commit time
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = elapsed(now - Date.parse(el.dataset.since));
    });
    var clock = document.getElementById("clock");
    if (clock) clock.textContent = new Date(now).toLocaleTimeString("zh-CN", {hour12: false});
    if (live) live.classList.toggle("wz-stale", Date.now() - lastOk > 5000);
    counts();
  }
  function counts() {
    var cards = list.querySelectorAll(".wz-alarm:not(.wz-state-resolved)");
    var urgent = list.querySelectorAll(".wz-alarm.wz-state-new, .wz-alarm.wz-state-notifying");
    var u = document.querySelector("#count-urgent b"), o = document.querySelector("#count-open b");
    if (u) u.textContent = urgent.length;
    if (o) o.textContent = cards.length;
    if (empty) empty.classList.toggle("d-none", list.querySelector(".wz-alarm") !== null);
    document.title = (urgent.length ? "【" + urgent.length + "】" : "") + document.title.replace(/^【\d+】/, "");
  }

  function beep() {
    if (!soundOn || !audio) return;
    var t = audio.currentTime;
    [0, 0.25, 0.5].forEach(function (offset) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = offset === 0.25 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, t + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, t + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + offset);
      osc.stop(t + offset + 0.22);
    });
  }
  var toggle = document.getElementById("sound-toggle");
  var Ctx = window.AudioContext || window.webkitAudioContext;
  function showSound() {
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
    toggle.classList.toggle("btn-danger", soundOn);
    toggle.classList.toggle("btn-outline-danger", !soundOn);
    toggle.querySelector("i").className = soundOn ? "bi bi-volume-up" : "bi bi-volume-mute";
    toggle.querySelector("span").textContent = soundOn ? "提示音已开启" : "开启提示音";
  }
  // A duty-station kiosk may allow sound without a click (autoplay policy): then it is on at once.
  if (Ctx && view === "console") {
    try { audio = new Ctx(); soundOn = audio.state === "running"; } catch (e) { audio = null; }
    showSound();
  }
  if (toggle) toggle.addEventListener("click", function () {
    // Browsers start audio only after a click on the page: the duty officer turns it on once.
    if (!audio && Ctx) audio = new Ctx();
    if (audio && audio.state === "suspended") audio.resume();
    soundOn = !soundOn;
    showSound();
    if (soundOn) beep();
  });

  function fromHtml(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }
  function place(el, severity) {
    if (severity === "critical") {
      // Emergencies first, newest emergency at the top of the emergencies.
      list.insertBefore(el, list.firstElementChild);
    } else {
      list.appendChild(el);
    }
    if (window.htmx) window.htmx.process(el);
  }
  function busy(card) {
    return card.classList.contains("htmx-request") || card.querySelector(".htmx-request") !== null;
  }
  function swap(old, el) {
    // Never go back in time: the card may already show this change (or a later one) from its own
    // action's response.
    if (parseInt(el.dataset.feed || "0", 10) <= parseInt(old.dataset.feed || "0", 10)) return;
    if (busy(old) || (old.contains(document.activeElement) && document.activeElement !== document.body)) {
      // Somebody is typing in this card: keep their input, apply the update when they leave it.
      deferred[old.id] = el;
      return;
    }
    old.replaceWith(el);
    if (window.htmx) window.htmx.process(el);
  }
  document.addEventListener("focusout", function (ev) {
    setTimeout(function () {
      Object.keys(deferred).forEach(function (id) {
        var old = document.getElementById(id);
        if (!old) { delete deferred[id]; return; }
        if (!old.contains(document.activeElement) && !busy(old)) { var el = deferred[id]; delete deferred[id]; swap(old, el); }
      });
    }, 50);
  });
  function leave(el) {
    setTimeout(function () { el.classList.add("wz-leaving"); }, 4000);
    setTimeout(function () { if (el.parentNode) el.remove(); counts(); }, 5200);
  }

  function apply(data) {
    var rang = false, healthChanged = false;
    (data.alarms || []).forEach(function (a) {
      var old = document.getElementById("alarm-" + a.id);
      var el = fromHtml(a.html);
      if (!el) return;
      if (old) {
        swap(old, el);
      } else {
        if (!a.open) return;  // resolved before this page ever saw it
        if (view === "responder" && !a.mine) return;
        el.classList.add("wz-fresh");
        setTimeout(function () { el.classList.remove("wz-fresh"); }, 6000);
        place(el, a.severity);
        if ((a.state === "new" || a.state === "notifying") && !rang) { beep(); rang = true; }
      }
      if (!a.open) leave(el);
      if (a.kind !== "press") healthChanged = true;
    });
    // A device went offline, low or tampered (or recovered): refresh the health panel now.
    var panel = document.getElementById("health");
    if (healthChanged && panel && window.htmx) window.htmx.trigger(panel, "refresh");
    counts();
  }

  function poll() {
    var url = root.dataset.feed + "?cursor=" + cursor + (view === "responder" ? "&view=responder" : "");
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        lastOk = Date.now();
        if (data.server_time) skew = Date.parse(data.server_time) - Date.now();
        apply(data);
        var more = data.cursor > cursor && (data.alarms || []).length >= 100;
        cursor = Math.max(cursor, data.cursor);
        root.dataset.cursor = cursor;
        setTimeout(poll, more ? 0 : INTERVAL);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  document.body.addEventListener("htmx:afterSettle", function () {
    Object.keys(deferred).forEach(function (id) {
      var old = document.getElementById(id);
      if (!old) { delete deferred[id]; return; }
      if (!busy(old) && !old.contains(document.activeElement)) { var el = deferred[id]; delete deferred[id]; swap(old, el); }
    });
  });
  // A refused action (409/403) says why inside the card instead of failing silently.
  document.body.addEventListener("htmx:responseError", function (ev) {
    var card = ev.detail.elt.closest(".wz-alarm");
    var box = card && card.querySelector(".wz-act-error");
    if (box) box.textContent = ev.detail.xhr.responseText || "操作未成功,请重试";
  });

  tick();
  setInterval(tick, 1000);
  poll();
})();
