// Live paging from the urgent page (issue 12, docs/live-paging.md): press and hold Talk (or
// tap it twice with the toggle), the microphone goes to the loudspeakers chosen in the form
// above, live. The protocol is the pager WebSocket `GET /api/v1/live`:
//   - opened with the panel's session and its CSRF token as `?csrf=` (same origin);
//   - first a JSON text message {speakers, areas, override_window, take_over};
//   - the answer {page, frame_ms, rate, targets: [{speaker, name, live, reason}]} or
//     {error: {code, message, by}};
//   - then binary messages, 20 ms frames of 16-bit mono PCM at `rate`, cut by
//     live-worklet.js; {"end": true} when the user lets go;
//   - the server tells each target's state as it changes (connecting, live, behind,
//     dropped, ended) and {ended: why} when it ends the page itself (taken over, too long).
// No build step, no libraries (the CSP allows scripts from 'self' only).
(function () {
  "use strict";
  var box = document.getElementById("talk");
  if (!box) return;
  var words = JSON.parse(box.dataset.words || "{}");
  var form = box.closest("form");
  var button = box.querySelector("[data-talk]");
  var toggle = box.querySelector("[data-talk-toggle]");
  var meter = box.querySelector("[data-talk-level]");
  var statusLine = box.querySelector("[data-talk-status]");
  var problem = box.querySelector("[data-talk-error]");
  var takeOver = box.querySelector("[data-talk-take-over]");
  var list = box.querySelector("[data-talk-targets]");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var RATE = Number(box.dataset.rate) || 22050;
  var FRAME_MS = Number(box.dataset.frameMs) || 20;
  var CHIME_MS = Number(box.dataset.chimeMs) || 0;
  var MAX_QUEUED = (RATE * 2 * 500) / 1000; // bytes: more than 0.5 s not sent yet, skip frames
  var STATES = ["connecting", "live", "behind", "dropped", "ended"];
  var talk = null; // the talk under way, if any

  function fill(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (all, name) {
      return values && values[name] !== undefined ? values[name] : all;
    });
  }

  function say(text) {
    statusLine.textContent = text || "";
  }

  function fail(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  function label() {
    var tapping = toggle.checked || (talk && talk.tapped);
    if (talk && !talk.released) button.textContent = tapping ? words.tapped : words.holding;
    else button.textContent = toggle.checked ? words.tap : words.hold;
  }

  // -- the list of targets with their states ---------------------------------------------
  function showTargets(targets) {
    list.textContent = "";
    talk.rows = {};
    targets.forEach(function (t) {
      var row = document.createElement("li");
      row.id = "talk-" + t.speaker;
      row.dataset.speaker = t.speaker;
      var name = document.createElement("span");
      name.className = "talk-name";
      name.textContent = t.name || t.speaker;
      var state = document.createElement("span");
      state.className = "talk-state";
      row.appendChild(name);
      row.appendChild(document.createTextNode(" "));
      row.appendChild(state);
      list.appendChild(row);
      talk.rows[t.speaker] = row;
      if (t.live === false) {
        row.dataset.state = "not-reached";
        row.className = "state-not-reached";
        state.textContent = fill(words.not_reached, { why: words[t.reason] || t.reason || "" });
      } else {
        setState(t.speaker, t.state || "connecting");
      }
    });
  }

  // What a target's page came to, once ended: heard, dropped, not-connected, taken over.
  function outcomeText(outcome) {
    var taken = /^taken over by (.*)$/.exec(outcome || "");
    if (taken) return fill(words.outcome_taken_over, { by: taken[1] });
    if (outcome === "dropped") return words.outcome_dropped;
    if (outcome === "not-connected") return words.outcome_not_connected;
    return words.state_ended;
  }

  function setState(speaker, state, outcome) {
    var row = talk && talk.rows[speaker];
    if (!row || row.dataset.state === "not-reached" || STATES.indexOf(state) < 0) return;
    if (row.dataset.state === "ended" && !outcome) return; // over is over
    row.dataset.state = state;
    row.className = "state-" + state;
    if (outcome) row.dataset.outcome = outcome;
    row.querySelector(".talk-state").textContent =
      state === "ended" ? outcomeText(outcome) : words["state_" + state] || state;
  }

  // The server's state messages: one target ({speaker, state}), a list ({targets|states:
  // [{speaker, state}]}) or a map ({states: {speaker: state | {state}}}).
  function applyStates(message) {
    if (message.speaker && message.state) setState(message.speaker, message.state);
    [message.targets, message.states].forEach(function (part) {
      if (Array.isArray(part)) {
        part.forEach(function (t) { if (t && t.speaker) setState(t.speaker, t.state, t.outcome); });
      } else if (part && typeof part === "object") {
        Object.keys(part).forEach(function (speaker) {
          var value = part[speaker];
          setState(speaker, typeof value === "string" ? value : value && value.state);
        });
      }
    });
  }

  function endAll(keepDropped) {
    if (!talk || !talk.rows) return;
    Object.keys(talk.rows).forEach(function (speaker) {
      var row = talk.rows[speaker];
      if (keepDropped && row.dataset.state === "dropped") return;
      setState(speaker, "ended");
    });
  }

  // -- why the server refused or ended it, in the user's words ---------------------------
  function refusal(error) {
    var text = String(error.message || error.code || "");
    if (error.code === "busy") {
      if (box.dataset.admin) {
        takeOver.textContent = words.take_over;
        takeOver.hidden = false;
      }
      return fill(words.busy, { by: error.by || "?" });
    }
    if (/outside_windows/.test(text)) return words.refused_outside;
    if (/no loudspeaker can take/.test(text) && /offline/.test(text) && !/outside|not_now/.test(text)) {
      return words.refused_offline;
    }
    return fill(words.refused, { why: text });
  }

  function endedBy(why) {
    why = String(why || "");
    var taken = /^taken over by (.*)$/.exec(why);
    if (taken) return fill(words.taken_over, { by: taken[1] });
    if (why === "max-length") return words.max_length;
    return "";
  }

  // -- the microphone ----------------------------------------------------------------------
  function microphoneProblem(err) {
    var name = (err && err.name) || "";
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return words.denied;
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return words.no_mic;
    }
    return fill(words.mic_failed, { why: name || String(err) });
  }

  function openMicrophone(current) {
    var Context = window.AudioContext || window.webkitAudioContext;
    // Made in the press itself (a user gesture), so the browser lets it run.
    current.context = new Context({ sampleRate: RATE });
    var module = current.context.audioWorklet.addModule(box.dataset.worklet);
    module.catch(function () {}); // said below, unless the microphone's own failure comes first
    return navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: true }
    }).then(function (stream) {
      current.stream = stream;
      if (talk !== current || current.released) { stopMicrophone(current); return null; }
      return module.catch(function (err) {
        // Closed under it when the user let go early: nothing to say then.
        if (current.released) return null;
        throw err;
      });
    }).then(function () {
      if (talk !== current || current.released) { stopMicrophone(current); return null; }
      var source;
      try {
        source = current.context.createMediaStreamSource(current.stream);
      } catch (err) {
        if (err.name !== "NotSupportedError") throw err;
        // This browser cannot convert the microphone to another rate: a context at the
        // device's own rate, and the worklet converts (live-worklet.js).
        current.context.close().catch(function () {});
        current.context = new Context();
        current.resampled = current.context.sampleRate;
        return current.context.audioWorklet.addModule(box.dataset.worklet).then(function () {
          if (talk !== current || current.released) { stopMicrophone(current); return null; }
          return connect(current, current.context.createMediaStreamSource(current.stream));
        });
      }
      return connect(current, source);
    });
  }

  function connect(current, source) {
    current.node = new AudioWorkletNode(current.context, "live-frames", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
      processorOptions: { frameMs: FRAME_MS, targetRate: RATE }
    });
    current.node.port.onmessage = function (ev) { onFrame(current, ev.data); };
    source.connect(current.node);
    box.dataset.captureRate = String(current.context.sampleRate); // for tests
    return current.context.resume();
  }

  function stopMicrophone(current) {
    if (current.stream) current.stream.getTracks().forEach(function (t) { t.stop(); });
    if (current.node) current.node.port.postMessage("stop");
    if (current.context && current.context.state !== "closed") current.context.close().catch(function () {});
    current.stream = null;
    current.node = null;
    meter.value = 0;
  }

  function onFrame(current, frame) {
    // The meter: the frame's peak on a 60 dB scale, falling back slowly.
    var db = frame.peak > 0 ? 20 * Math.log(frame.peak) / Math.LN10 : -60;
    var level = Math.max(0, Math.min(1, (db + 60) / 60));
    current.level = Math.max(level, (current.level || 0) - 0.05);
    meter.value = current.level;
    var ws = current.ws;
    if (!current.page || current.released || !ws || ws.readyState !== 1) return;
    if (ws.bufferedAmount > MAX_QUEUED) { // the network does not keep up: skip, never lag
      current.skipped += 1;
      if (current.skipped === 1) fail(words.slow);
      return;
    }
    ws.send(frame.pcm);
    current.sent += 1;
  }

  // -- one talk: start, answer, frames, end ------------------------------------------------
  function chosen(name) {
    return Array.prototype.map.call(
      form.querySelectorAll('input[name="' + name + '"]:checked'),
      function (i) { return i.value; }
    );
  }

  function start(options) {
    if (talk) return;
    fail("");
    takeOver.hidden = true;
    var ask = {
      speakers: chosen("speakers"),
      areas: chosen("areas"),
      override_window: !!(form.querySelector('[name="override_window"]') || {}).checked,
      take_over: !!options.takeOver
    };
    if (!ask.speakers.length && !ask.areas.length) { fail(words.choose); return; }
    var current = { tapped: !!options.tapped, sent: 0, skipped: 0, rows: {} };
    talk = current;
    list.textContent = "";
    button.classList.add("talking");
    button.setAttribute("aria-pressed", "true");
    box.classList.add("talking");
    label();
    say(words.connecting);
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + box.dataset.url + "?csrf=" + encodeURIComponent(csrf);
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      finish(current, words.cannot_connect);
      return;
    }
    current.ws = ws;
    ws.binaryType = "arraybuffer";
    // Asked once both the socket and the microphone are ready: a microphone that fails
    // (blocked, missing) pages nobody.
    var asked = false;
    function askWhenReady() {
      if (asked || !current.micReady || ws.readyState !== 1) return;
      asked = true;
      if (current.released) { ws.close(); return; }
      ws.send(JSON.stringify(ask));
    }
    ws.onopen = askWhenReady;
    ws.onmessage = function (ev) {
      if (typeof ev.data !== "string") return;
      var message;
      try { message = JSON.parse(ev.data); } catch (err) { return; }
      onMessage(current, message);
    };
    ws.onerror = function () {
      if (!current.answered) current.problem = current.problem || words.cannot_connect;
    };
    ws.onclose = function () {
      if (!current.answered) {
        finish(current, current.problem || (current.released ? "" : words.cannot_connect));
      } else if (!current.released) { // the server or the network ended it under us
        endAll(true);
        finish(current, current.problem || words.lost);
      } else {
        endAll(true);
        finish(current, current.problem || "");
      }
    };
    openMicrophone(current).then(function () {
      current.micReady = true;
      askWhenReady();
    }).catch(function (err) {
      current.problem = microphoneProblem(err);
      if (current.finished) fail(current.problem); // let go before the browser answered
      else release(current);
    });
  }

  function onMessage(current, message) {
    if (!current.answered) {
      current.answered = true;
      if (message.error) {
        current.problem = refusal(message.error);
        current.released = true;
        stopMicrophone(current);
        current.ws.close();
        return;
      }
      current.page = message.page;
      box.dataset.page = message.page;
      if (message.rate && message.rate !== RATE) { // never so with this panel; say it plainly
        current.problem = fill(words.mic_failed, { why: "rate " + message.rate });
        release(current);
        return;
      }
      showTargets(message.targets || []);
      if (current.released) { sendEnd(current); return; }
      say(words.chime);
      return;
    }
    applyStates(message);
    // The first loudspeaker that reads the stream starts its chime about then: speech
    // before the chime has ended is not heard (a speaker keeps at most 0.4 s in hand).
    if (!current.chimed && Object.keys(current.rows).some(function (s) {
      return current.rows[s].dataset.state === "live" || current.rows[s].dataset.state === "behind";
    })) {
      current.chimed = setTimeout(function () {
        if (!current.released) { say(words.speak); box.dataset.speak = current.page; }
      }, CHIME_MS + 200);
    }
    if (message.ended) {
      var why = endedBy(message.ended);
      if (why) current.problem = why;
      endAll(true);
    }
    if (message.error) current.problem = refusal(message.error);
  }

  // The user let go (or the microphone failed): end the page; the server closes the socket
  // once it has ended it (the last states come before), or we do after 3 s.
  function release(current) {
    if (!current || current.released) return;
    current.released = true;
    stopMicrophone(current);
    button.classList.remove("talking");
    button.setAttribute("aria-pressed", "false");
    box.classList.remove("talking");
    label();
    var ws = current.ws;
    if (!ws || ws.readyState >= 2) finish(current, current.problem || "");
    else if (current.page) sendEnd(current);
    else if (!current.micReady || ws.readyState === 0) ws.close(); // never asked: onclose finishes
    // else: asked and not answered yet; the answer's handler ends the page at once
  }

  function sendEnd(current) {
    var ws = current.ws;
    try { ws.send(JSON.stringify({ end: true })); } catch (err) { /* closing anyway */ }
    setTimeout(function () { if (ws.readyState < 2) ws.close(); }, 3000);
  }

  function finish(current, text) {
    if (current.finished) return;
    current.finished = true;
    current.released = true;
    stopMicrophone(current);
    if (talk === current) talk = null;
    button.classList.remove("talking");
    button.setAttribute("aria-pressed", "false");
    box.classList.remove("talking");
    label();
    if (current.page) say(words.over);
    else say("");
    if (text) fail(text);
    box.dataset.done = String(Number(box.dataset.done || 0) + 1); // for tests and screen readers
  }

  // -- the button: hold (pointer or keyboard), or tap with the toggle ----------------------
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    var insecure = box.querySelector("[data-talk-insecure]");
    insecure.textContent = window.isSecureContext ? words.unsupported : words.insecure;
    insecure.hidden = false;
    button.disabled = true;
    return;
  }
  if (!window.AudioWorkletNode || !window.WebSocket) {
    var old = box.querySelector("[data-talk-insecure]");
    old.textContent = words.unsupported;
    old.hidden = false;
    button.disabled = true;
    return;
  }

  label();
  toggle.addEventListener("change", function () { if (!talk) label(); });

  button.addEventListener("pointerdown", function (ev) {
    if (toggle.checked || ev.button !== 0) return;
    ev.preventDefault();
    try { button.setPointerCapture(ev.pointerId); } catch (err) { /* not captured: fine */ }
    start({});
  });
  function letGo() {
    if (talk && !talk.tapped && !toggle.checked) release(talk);
  }
  button.addEventListener("pointerup", letGo);
  button.addEventListener("pointercancel", letGo);
  button.addEventListener("lostpointercapture", letGo);
  button.addEventListener("contextmenu", function (ev) { ev.preventDefault(); }); // long press
  button.addEventListener("keydown", function (ev) {
    if ((ev.key === " " || ev.key === "Enter") && !toggle.checked) {
      ev.preventDefault();
      if (!ev.repeat) start({});
    }
  });
  button.addEventListener("keyup", function (ev) {
    if ((ev.key === " " || ev.key === "Enter") && !toggle.checked) { ev.preventDefault(); letGo(); }
  });
  button.addEventListener("click", function (ev) {
    ev.preventDefault();
    if (!toggle.checked && !(talk && talk.tapped)) return; // holding: pointer and keys do it
    if (talk) release(talk);
    else start({ tapped: true });
  });
  takeOver.addEventListener("click", function () {
    takeOver.hidden = true;
    start({ takeOver: true, tapped: true }); // tap Talk to end it
  });
  // Holding, and the page loses the pointer's release (another window, the tab hidden):
  // end it rather than talk on without knowing.
  window.addEventListener("blur", letGo);
  document.addEventListener("visibilitychange", function () { if (document.hidden) letGo(); });
  window.addEventListener("pagehide", function () { if (talk) release(talk); });
})();
