// The panel's few behaviours; no build step, no libraries. Loaded with `defer`.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  // "Updated at" in the panel's language (not the browser's): 22:25:32, not 10:25:32 PM.
  function clockNow() {
    try {
      return new Date().toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false });
    } catch (e) {
      return new Date().toLocaleTimeString();
    }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  // Parts of a page that refresh themselves (dashboard cards, urgent acks); `data-every`
  // is the period in ms; a fragment holding [data-final] ends the refreshing.
  document.querySelectorAll("[data-refresh]").forEach(function (box) {
    var busy = false;
    var timer = setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(box.dataset.refresh, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          box.innerHTML = html;
          var stamp = document.getElementById("updated");
          if (stamp) stamp.textContent = clockNow();
          if (box.querySelector("[data-final]")) clearInterval(timer);
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, Number(box.dataset.every) || 5000);
  });

  // Dashboard: status, what plays and the plan sync of every card, every 2 s (small JSON).
  var syncCount = document.getElementById("sync-count");
  if (syncCount) {
    var liveBusy = false;
    setInterval(function () {
      if (liveBusy || document.hidden) return;
      liveBusy = true;
      getJSON(syncCount.dataset.live).then(function (data) {
        syncCount.textContent = data.text;
        syncCount.classList.toggle("all", data.synced === data.total);
        data.speakers.forEach(function (s) {
          var card = document.getElementById("speaker-" + s.id);
          if (!card) return;
          card.classList.toggle("online", s.online);
          card.classList.toggle("offline", !s.online);
          var badge = card.querySelector(".badge");
          if (badge) {
            badge.textContent = s.badge;
            badge.className = "badge state-" + (s.online ? "online" : "offline");
          }
          var playing = card.querySelector(".now-playing");
          if (playing) playing.textContent = s.playing || "\u2014";
          var plan = card.querySelector(".plan-sync");
          if (plan) { plan.textContent = s.sync_label; plan.classList.toggle("synced", s.synced); }
        });
        var stamp = document.getElementById("updated");
        if (stamp) stamp.textContent = clockNow();
      }).catch(function () {}).then(function () { liveBusy = false; });
    }, 2000);
  }

  // After an edit: how many loudspeakers already run the new plan, for a minute.
  var syncStatus = document.getElementById("sync-status");
  if (syncStatus) {
    var started = Date.now();
    var syncTimer = setInterval(function () {
      if (Date.now() - started > 60000) { clearInterval(syncTimer); return; }
      getJSON(syncStatus.dataset.live).then(function (data) {
        syncStatus.hidden = false;
        var label = syncStatus.dataset.label;
        syncStatus.textContent = label + (/:$/.test(label) ? " " : "") + data.text;
        if (data.synced + data.offline >= data.total && Date.now() - started > 4000) {
          syncStatus.textContent += " \u2713";
          clearInterval(syncTimer);
        }
      }).catch(function () {});
    }, 2000);
  }

  // Urgent page: who would hear it, asked again as the user edits (the form's own two
  // steps, Send then Confirm, work without this).
  var live = document.getElementById("live-coverage");
  if (live) {
    var form = live.closest("form");
    var words = JSON.parse(live.dataset.words || "{}");
    var pending = null;
    var ask = function () {
      var source = form.querySelector('input[name="source"]:checked');
      var body = {
        speakers: Array.from(form.querySelectorAll('input[name="speakers"]:checked')).map(function (i) { return i.value; }),
        areas: Array.from(form.querySelectorAll('input[name="areas"]:checked')).map(function (i) { return i.value; }),
        repeats: Number(form.querySelector('[name="repeats"]').value) || 1,
        interval_s: Number(form.querySelector('[name="interval_s"]').value) || 0,
        override_window: form.querySelector('[name="override_window"]').checked
      };
      var minutes = Number(form.querySelector('[name="expires_min"]').value) || 60;
      body.expires_at = new Date(Date.now() + minutes * 60000).toISOString();
      if (source && source.value === "message") body.message = form.querySelector('select[name="message"]').value;
      else if (source && source.value === "text") body.text = form.querySelector('[name="text"]').value;
      else body.text = words.stand_in;
      if (!body.speakers.length && !body.areas.length) { live.textContent = ""; return; }
      if (!body.text && !body.message) { live.textContent = ""; return; }
      fetch(live.dataset.url, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }
      }).then(function (r) { return r.json().then(function (data) { return [r.status, data]; }); })
        .then(function (answer) {
          var status = answer[0], data = answer[1];
          var targets = status === 200 ? data.data.targets : (data.error && data.error.targets);
          if (!targets) { live.textContent = ""; return; }
          var now = 0, later = 0, never = [];
          var soon = Date.now() + 2000 + 1000;
          targets.forEach(function (t) {
            if (t.plays_at && Date.parse(t.plays_at) <= soon) now += 1;
            else if (t.plays_at) later += 1;
            else never.push(t.name + "\uff1a" + (words[t.reason] || t.reason));
          });
          var text = words.now + " " + now + " \u00b7 " + words.later + " " + later + " \u00b7 " + words.never + " " + never.length;
          if (never.length) text += " \u2014 " + never.join("\uff1b");
          if (status !== 200) text = words.nobody + " " + text;
          live.textContent = text;
          live.classList.toggle("error", status !== 200);
        }).catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(pending); pending = setTimeout(ask, 400); });
    form.addEventListener("change", function () { clearTimeout(pending); pending = setTimeout(ask, 400); });
  }

  // Ordered lists of rows (route stops, a program's messages): numbered, moved up and down,
  // dragged by their handle (mouse, pen or finger: pointer events), removed, added.
  function renumber(list) {
    Array.prototype.forEach.call(list.children, function (row, i) {
      var no = row.querySelector(".row-no");
      if (no) no.textContent = String(i + 1);
    });
  }
  function edited(node) {
    var form = node && node.closest("form[data-unsaved]");
    if (!form) return;
    form.dataset.dirty = "1";
    var note = form.querySelector("[data-unsaved-note]");
    if (note) note.hidden = false;
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button");
    if (!button) return;
    var row = button.closest("[data-row]");
    var list = row ? row.parentNode : null;
    if (button.hasAttribute("data-up") && row && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
    } else if (button.hasAttribute("data-down") && row && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
    } else if (button.hasAttribute("data-remove") && row) {
      row.remove();
    } else if (button.hasAttribute("data-add")) {
      var scope = button.parentNode;
      var template = scope.querySelector("template[data-row-template]");
      list = scope.querySelector("[data-orderable]");
      if (template && list) {
        list.appendChild(template.content.cloneNode(true));
        var field = list.lastElementChild && list.lastElementChild.querySelector("input, select");
        if (field) field.focus();
      }
    } else if (button.hasAttribute("data-print")) {
      window.print();
      return;
    } else {
      return;
    }
    if (list) { renumber(list); edited(list); }
  });

  document.addEventListener("pointerdown", function (ev) {
    var handle = ev.target.closest("[data-drag]");
    var row = handle && handle.closest("[data-row]");
    if (!row || handle.closest("fieldset[disabled]")) return;
    var list = row.parentNode;
    ev.preventDefault();
    row.classList.add("dragging");
    // Listened to on the document: moving the row in the list drops a pointer capture.
    var move = function (e) {
      var others = Array.prototype.filter.call(list.children, function (r) { return r !== row; });
      var before = null;
      for (var i = 0; i < others.length; i += 1) {
        var box = others[i].getBoundingClientRect();
        if (e.clientY < box.top + box.height / 2) { before = others[i]; break; }
      }
      if (before && row.nextElementSibling !== before) list.insertBefore(row, before);
      else if (!before && list.lastElementChild !== row) list.appendChild(row);
    };
    var done = function () {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", done);
      document.removeEventListener("pointercancel", done);
      row.classList.remove("dragging");
      renumber(list);
      edited(list);
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", done);
    document.addEventListener("pointercancel", done);
  });

  // Forms marked data-unsaved warn before the page is left with changes not saved.
  document.querySelectorAll("form[data-unsaved]").forEach(function (form) {
    form.addEventListener("input", function () { edited(form); });
    form.addEventListener("change", function () { edited(form); });
    form.addEventListener("submit", function () { form.dataset.dirty = ""; });
  });
  window.addEventListener("beforeunload", function (ev) {
    if (!document.querySelector('form[data-unsaved][data-dirty="1"]')) return undefined;
    ev.preventDefault();
    ev.returnValue = "";  // the browser shows its own "leave the page?" question
    return "";
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });

  // Urgent page: show the inputs of the chosen source only.
  var choice = document.querySelector("[data-source-choice]");
  function showSource() {
    var picked = document.querySelector('input[name="source"]:checked');
    document.querySelectorAll("[data-source]").forEach(function (part) {
      part.hidden = !picked || part.dataset.source !== picked.value;
    });
  }
  if (choice) { choice.addEventListener("change", showSource); showSource(); }

  // Schedule form: the fields of the chosen "how often" only; a warning next to the times
  // when the window plays outside the district's hours, asked again before saving.
  var often = document.querySelector("[data-often-choice]");
  function showOften() {
    var picked = document.querySelector('input[name="how_often"]:checked');
    document.querySelectorAll("[data-often]").forEach(function (part) {
      part.hidden = !picked || part.dataset.often.split(" ").indexOf(picked.value) < 0;
    });
  }
  if (often) { often.addEventListener("change", showOften); showOften(); }
  var scheduleForm = document.getElementById("schedule-form");
  if (scheduleForm && scheduleForm.dataset.hoursFrom) {
    var lateBox = document.getElementById("late-warning");
    var isLate = function () {
      var start = scheduleForm.querySelector('[name="start"]').value.slice(0, 5);
      var end = scheduleForm.querySelector('[name="end"]').value.slice(0, 5);
      if (!start || !end) return false;
      return start < scheduleForm.dataset.hoursFrom || end > scheduleForm.dataset.hoursTo || end <= start;
    };
    var showLate = function () {
      var late = isLate();
      lateBox.hidden = !late;
      if (late) lateBox.textContent = scheduleForm.dataset.lateText;
    };
    scheduleForm.addEventListener("input", showLate);
    scheduleForm.addEventListener("change", showLate);
    scheduleForm.addEventListener("submit", function (ev) {
      var action = ev.submitter ? ev.submitter.value : "save";
      if (action === "save" && isLate() && !window.confirm(scheduleForm.dataset.lateText)) {
        ev.preventDefault();
      }
    });
  }

  // Preview: the text as spoken, and its audio.
  // The reading for review (issue 16): each character with its syllable above it, the exact
  // syllables given to the voice in the title.
  function showReading(ruby, pinyin) {
    var line = document.getElementById("reading-line");
    var box = document.getElementById("reading-text");
    if (!line || !box) { return; }
    box.textContent = "";
    box.title = pinyin;
    ruby.forEach(function (pair) {
      if (!pair[1]) { box.appendChild(document.createTextNode(pair[0])); return; }
      var r = document.createElement("ruby");
      r.appendChild(document.createTextNode(pair[0]));
      var rt = document.createElement("rt");
      rt.textContent = pair[1];
      r.appendChild(rt);
      box.appendChild(r);
    });
    line.hidden = !pinyin;
  }
  var previewButton = document.getElementById("preview-button");
  if (previewButton) {
    previewButton.addEventListener("click", function () {
      var form = previewButton.form;
      var audio = document.getElementById("preview-audio");
      var spoken = document.getElementById("spoken-text");
      var problem = document.getElementById("preview-error");
      problem.hidden = true;
      var source = form.querySelector('input[name="source"]:checked');
      if (source && source.value === "message") {
        var id = form.querySelector('select[name="message"]').value;
        audio.src = previewButton.dataset.messageAudio.replace("__ID__", encodeURIComponent(id));
        spoken.textContent = "";
        showReading([], "");
        audio.play().catch(function () {});
        return;
      }
      if (source && source.value === "recording") {
        var rec = form.querySelector("[data-record-preview]");
        if (rec && rec.src) { audio.src = rec.src; audio.play().catch(function () {}); }
        return;
      }
      var body = new FormData();
      ["text", "voice", "rate"].forEach(function (name) {
        var field = form.querySelector('[name="' + name + '"]');
        if (field) body.append(name, field.value);
      });
      var chime = form.querySelector('[name="chime"]');
      body.append("chime", chime ? (chime.checked ? "1" : "") : "1");
      previewButton.disabled = true;
      fetch(previewButton.dataset.previewUrl, {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.error) {
            problem.textContent = data.error.message || String(data.error);
            problem.hidden = false;
            return;
          }
          spoken.textContent = data.spoken;
          showReading(data.ruby || [], data.pinyin || "");
          audio.src = data.url;
          audio.play().catch(function () {});
        })
        .catch(function (err) { problem.textContent = String(err); problem.hidden = false; })
        .then(function () { previewButton.disabled = false; });
    });
  }

  // Recording with the microphone: the result goes into the form's file field.
  document.querySelectorAll("[data-recorder]").forEach(function (box) {
    var start = box.querySelector("[data-record-start]");
    var stop = box.querySelector("[data-record-stop]");
    var state = box.querySelector("[data-record-state]");
    var preview = box.querySelector("[data-record-preview]");
    var input = box.closest("form").querySelector('input[type="file"][name="recording"]');
    var recorder = null;
    var chunks = [];
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      start.disabled = true;
      state.textContent = document.documentElement.lang === "en" ? "No microphone here." : "此浏览器不能录音。";
      return;
    }
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = function (ev) { if (ev.data.size) chunks.push(ev.data); };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (t) { t.stop(); });
          var type = recorder.mimeType || "audio/webm";
          var blob = new Blob(chunks, { type: type });
          var ext = type.indexOf("ogg") >= 0 ? "ogg" : (type.indexOf("mp4") >= 0 ? "m4a" : "webm");
          var file = new File([blob], "recording." + ext, { type: type });
          var transfer = new DataTransfer();
          transfer.items.add(file);
          input.files = transfer.files;
          preview.src = URL.createObjectURL(blob);
          preview.hidden = false;
          state.textContent = Math.round(blob.size / 1024) + " KB ✓";
          box.dataset.recorded = "1";
        };
        recorder.start();
        start.disabled = true;
        stop.disabled = false;
        state.textContent = "● REC";
      }).catch(function (err) { state.textContent = String(err); });
    });
    stop.addEventListener("click", function () {
      if (recorder && recorder.state !== "inactive") recorder.stop();
      start.disabled = false;
      stop.disabled = true;
    });
  });
})();
