// The panel's few behaviours; no build step, no libraries. Loaded with `defer`.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Parts of a page that refresh themselves (dashboard cards, urgent acks).
  document.querySelectorAll("[data-refresh]").forEach(function (box) {
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(box.dataset.refresh, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          box.innerHTML = html;
          var stamp = document.getElementById("updated");
          if (stamp) stamp.textContent = new Date().toLocaleTimeString();
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, 5000);
  });

  // Ordered lists of rows: move up, move down, remove, add.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button");
    if (!button) return;
    var row = button.closest("[data-row]");
    if (button.hasAttribute("data-up") && row && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
    } else if (button.hasAttribute("data-down") && row && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
    } else if (button.hasAttribute("data-remove") && row) {
      row.remove();
    } else if (button.hasAttribute("data-add")) {
      var scope = button.parentNode;
      var template = scope.querySelector("template[data-row-template]");
      var list = scope.querySelector("[data-orderable]");
      if (template && list) list.appendChild(template.content.cloneNode(true));
    } else if (button.hasAttribute("data-print")) {
      window.print();
    }
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

  // Preview: the text as spoken, and its audio.
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
          if (data.error) { problem.textContent = data.error; problem.hidden = false; return; }
          spoken.textContent = data.spoken;
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
