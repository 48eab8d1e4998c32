// The map page (web/panel/map_views.py): vehicles' markers follow their latest fixes, polled
// from /map/live every few seconds, with today's tracks; admins drag route stops (saved at
// once). The same projection as the server's (equirectangular, fitted). The view (zoom and
// centre) is the SVG's viewBox: zoomed with the wheel, pinch, +/- (buttons, keys), moved by
// dragging the background or the arrow keys, kept in the URL's hash (#map=lat,lon,metres).
(function () {
  "use strict";
  var svg = document.getElementById("map");
  if (!svg) return;
  var view = JSON.parse(svg.dataset.view);
  var words = document.getElementById("map-words").dataset;
  var every = Number(svg.dataset.every) || 3000;
  var FULL = { x: 0, y: 0, w: view.width, h: view.height };
  var M_PER_UNIT = 111320 / view.scale;  // metres per SVG unit (a degree of latitude ~111.3 km)
  // Zoomed in at most 64 times (a 30 km district: ~470 m across the box; the server draws to
  // 0.1 unit, 3 m there, a few pixels) and to 100 m across (a chief's small village).
  var MAX_ZOOM = Math.max(1, Math.min(64, view.width * M_PER_UNIT / 100));
  var box = { x: 0, y: 0, w: view.width, h: view.height };  // what the viewBox shows now

  // SVG units per screen pixel (at the whole map at least 1: on a screen wider than the map's
  // 1000 units names and markers grow with it): map.css scales names and markers by it, so they keep their
  // size on screen while the geometry grows. From the drawing's own scale, which is smaller
  // than the element's width says when a tall map is held to 75vh and centred.
  function rescale() {
    var ctm = svg.getScreenCTM(), perPixel = 0;
    if (ctm && ctm.a > 0) perPixel = 1 / ctm.a;
    else {
      var width = svg.getBoundingClientRect().width;
      if (width > 0) perPixel = box.w / width;
    }
    if (perPixel > 0) svg.style.setProperty("--k", Math.max(perPixel, box.w / view.width).toFixed(5));
  }

  function project(lat, lon) {
    return [(lon - view.west) * view.cos_lat * view.scale, (view.north - lat) * view.scale];
  }

  function place(marker, lat, lon) {
    var at = project(lat, lon);
    marker.setAttribute("transform", "translate(" + at[0].toFixed(1) + "," + at[1].toFixed(1) + ")");
    marker.dataset.lat = String(lat);
    marker.dataset.lon = String(lon);
    marker.hidden = false;
    marker.removeAttribute("hidden");
    // Glide from the second place on (map.css), not in from the corner when first drawn.
    if (!marker.classList.contains("placed")) {
      requestAnimationFrame(function () { marker.classList.add("placed"); });
    }
  }

  Array.prototype.forEach.call(svg.querySelectorAll(".map-vehicle[data-lat]"), function (m) {
    place(m, Number(m.dataset.lat), Number(m.dataset.lon));
  });

  // Today's tracks: redrawn whole every few polls (thinned by the server), and the newest
  // fix appended in between, so the line follows the marker.
  var tracksEvery = Number(svg.dataset.tracksEvery) || 5;
  var polls = 0;
  var trackGroup = svg.querySelector(".map-tracks");

  function trackLine(id) {
    var line = svg.querySelector('.map-track[data-id="' + CSS.escape(id) + '"]');
    if (!line && trackGroup) {
      line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("class", "map-track");
      line.dataset.id = id;
      trackGroup.appendChild(line);
    }
    return line;
  }

  function pointText(lat, lon) {
    var at = project(lat, lon);
    return at[0].toFixed(1) + "," + at[1].toFixed(1);
  }

  function drawTracks(tracks) {
    Object.keys(tracks).forEach(function (id) {
      var line = trackLine(id);
      if (line) line.setAttribute("points", tracks[id].map(function (p) { return pointText(p[0], p[1]); }).join(" "));
    });
  }

  function extendTrack(id, fix) {
    var line = trackLine(id);
    if (!line) return;
    var text = pointText(fix.lat, fix.lon);
    var points = (line.getAttribute("points") || "").trim();
    if (points.slice(-text.length) !== text) line.setAttribute("points", (points + " " + text).trim());
  }

  function refresh() {
    polls += 1;
    var url = svg.dataset.live + (polls % tracksEvery === 0 ? "?tracks=1" : "");
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        if (data.tracks) drawTracks(data.tracks);
        data.vehicles.forEach(function (v) {
          var marker = svg.querySelector('.map-vehicle[data-id="' + CSS.escape(v.id) + '"]');
          var row = document.querySelector('.map-vehicle-list tr[data-id="' + CSS.escape(v.id) + '"]');
          if (marker) {
            marker.classList.toggle("offline", !v.online);
            if (v.fix) place(marker, v.fix.lat, v.fix.lon);
            if (v.fix && following === v.id) glideTo(v.fix.lat, v.fix.lon);
          }
          if (v.fix && !data.tracks) extendTrack(v.id, v.fix);
          if (row) {
            row.querySelector(".state").textContent = v.online ? words.online : words.offline;
            row.querySelector(".fix").textContent = v.fix
              ? v.fix.time + "\uff08" + v.fix.lat.toFixed(5) + ", " + v.fix.lon.toFixed(5) + "\uff09"
              : words.none;
          }
        });
        // The server's clock in the deployment's zone, as the fixes' times are shown.
        document.getElementById("map-updated").textContent = words.updated.replace("{time}", data.time);
      })
      .catch(function () {});
  }
  setInterval(refresh, every);

  // -- admins: drag a route's stop, or place one that has no coordinates yet --------------
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var status = document.getElementById("map-stop-status");

  function say(text) { if (status) status.textContent = text; }

  function unproject(x, y) {
    return [view.north - y / view.scale, view.west + x / (view.cos_lat * view.scale)];
  }

  function svgPoint(event) {
    var p = svg.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }

  function redrawRoute(route) {
    var line = route.querySelector("polyline");
    if (!line) return;
    var stops = Array.prototype.slice.call(route.querySelectorAll(".map-stop"));
    stops.sort(function (a, b) { return Number(a.dataset.index) - Number(b.dataset.index); });
    line.setAttribute("points", stops.map(function (g) {
      var c = g.querySelector("circle");
      return c.getAttribute("cx") + "," + c.getAttribute("cy");
    }).join(" "));
  }

  function moveStop(stop, x, y) {
    var c = stop.querySelector("circle"), t = stop.querySelector("text");
    c.setAttribute("cx", x.toFixed(1)); c.setAttribute("cy", y.toFixed(1));
    t.setAttribute("x", x.toFixed(1)); t.setAttribute("y", y.toFixed(1));
    redrawRoute(stop.closest(".map-route"));
  }

  // Saved through the route editing code; the answer says the place kept or why not.
  function save(route, index, name, lat, lon) {
    var body = new URLSearchParams({ index: String(index), name: name,
                                     lat: lat.toFixed(6), lon: lon.toFixed(6) });
    say(words.saving);
    return fetch(route.dataset.save, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" }
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false, message: String(r.status) }; });
    }).then(function (answer) {
      if (!answer.ok) throw new Error(answer.message || "?");
      say(words.saved.replace("{n}", String(index + 1)));
      return answer;
    }).catch(function (e) {
      say(words.failed.replace("{why}", e.message));
      throw e;
    });
  }

  var dragging = null;
  svg.addEventListener("pointerdown", function (event) {
    var stop = event.target.closest && event.target.closest(".map-stop.draggable");
    if (!stop) return;
    var c = stop.querySelector("circle");
    dragging = { stop: stop, x0: Number(c.getAttribute("cx")), y0: Number(c.getAttribute("cy")), moved: false };
    stop.classList.add("dragging");
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  svg.addEventListener("pointermove", function (event) {
    if (!dragging) return;
    var p = svgPoint(event);
    dragging.moved = true;
    moveStop(dragging.stop, p.x, p.y);
  });
  function drop(event) {
    if (!dragging) return;
    var d = dragging;
    dragging = null;
    d.stop.classList.remove("dragging");
    if (!d.moved) return;
    var c = d.stop.querySelector("circle");
    var at = unproject(Number(c.getAttribute("cx")), Number(c.getAttribute("cy")));
    save(d.stop.closest(".map-route"), Number(d.stop.dataset.index), d.stop.dataset.name, at[0], at[1])
      .catch(function () { moveStop(d.stop, d.x0, d.y0); });
  }
  svg.addEventListener("pointerup", drop);
  svg.addEventListener("pointercancel", drop);

  // "Place 3. 东口": the next click on the map puts the stop there (saved at once).
  var placing = null;
  Array.prototype.forEach.call(document.querySelectorAll(".map-unplaced .place-stop"), function (button) {
    button.addEventListener("click", function () {
      placing = { button: button, id: button.closest(".map-unplaced").dataset.id };
      say(words.click.replace("{n}", String(Number(button.dataset.index) + 1)));
    });
  });
  svg.addEventListener("click", function (event) {
    if (panned) { panned = false; return; }  // the end of a drag of the map, not a click
    if (!placing) {
      var vehicle = event.target.closest && event.target.closest(".map-vehicle");
      if (vehicle) showVehicle(vehicle.dataset.id, false);
      return;
    }
    var p = placing;
    placing = null;
    var at = svgPoint(event), place = unproject(at.x, at.y);
    var route = svg.querySelector('.map-route[data-id="' + CSS.escape(p.id) + '"]');
    if (!route) return;
    save(route, Number(p.button.dataset.index), p.button.dataset.name, place[0], place[1])
      .then(function () { window.location.reload(); }, function () {});
  });

  // -- the view: zoom, move, centre on a vehicle or a place, follow a vehicle ----------------
  var following = null;  // a vehicle's id while the view keeps it in the middle
  var panned = false;  // the last press moved the map: its click is no click
  var animation = null;
  var settling = null;
  var CLOSE_M = 1500;  // metres across when centring on a vehicle (its street and village)
  var viewStatus = document.getElementById("map-view-status");
  var zoomIn = document.getElementById("map-zoom-in");
  var zoomOut = document.getElementById("map-zoom-out");
  var wholeButton = document.getElementById("map-whole");

  function sayView(text) { if (viewStatus) viewStatus.textContent = text; }

  // The box keeps the map's shape, between the whole map and MAX_ZOOM; its middle stays on
  // the map (anywhere on it when zoomed in far, the middle of the map at the whole map).
  function clamp(b) {
    var w = Math.min(FULL.w, Math.max(FULL.w / MAX_ZOOM, b.w));
    var h = w * FULL.h / FULL.w;
    function within(c, size, full) {
      var low = size * size / (2 * full);
      return Math.min(full - low, Math.max(low, c));
    }
    var cx = within(b.x + b.w / 2, w, FULL.w), cy = within(b.y + b.h / 2, h, FULL.h);
    return { x: cx - w / 2, y: cy - h / 2, w: w, h: h };
  }

  function setBox(b) {
    box = clamp(b);
    svg.setAttribute("viewBox", [box.x, box.y, box.w, box.h].map(function (v) { return v.toFixed(2); }).join(" "));
    rescale();
    buttons();
    if (settling) clearTimeout(settling);
    settling = setTimeout(settle, 120);
  }

  function buttons() {
    var whole = box.w >= FULL.w - 1e-6;
    if (zoomIn) zoomIn.disabled = box.w <= FULL.w / MAX_ZOOM + 1e-6;
    if (zoomOut) zoomOut.disabled = whole;
    if (wholeButton) wholeButton.disabled = whole && !following;
  }

  // Once the view rests: names that would overlap hidden, and the hash.
  function settle() {
    settling = null;
    declutter();
    writeHash();
  }

  function cancelAnimation() {
    if (animation) cancelAnimationFrame(animation);
    animation = null;
  }

  function animate(to, ms) {
    cancelAnimation();
    var from = { x: box.x, y: box.y, w: box.w, h: box.h }, t0 = performance.now();
    function step(t) {
      var a = Math.min(1, Math.max(0, (t - t0) / ms));
      setBox({ x: from.x + (to.x - from.x) * a, y: from.y + (to.y - from.y) * a,
               w: from.w + (to.w - from.w) * a, h: from.h + (to.h - from.h) * a });
      animation = a < 1 ? requestAnimationFrame(step) : null;
    }
    animation = requestAnimationFrame(step);
  }

  function zoomAt(factor, ux, uy) {
    var w = Math.min(FULL.w, Math.max(FULL.w / MAX_ZOOM, box.w / factor));
    var f = box.w / w;
    setBox({ x: ux - (ux - box.x) / f, y: uy - (uy - box.y) / f, w: w, h: box.h / f });
  }

  function zoomMiddle(factor) {
    cancelAnimation();
    zoomAt(factor, box.x + box.w / 2, box.y + box.h / 2);
  }

  function panBy(dx, dy) {
    cancelAnimation();
    stopFollowing();
    setBox({ x: box.x + dx, y: box.y + dy, w: box.w, h: box.h });
  }

  function centreOn(ux, uy, w) {
    var h = w * FULL.h / FULL.w;
    setBox({ x: ux - w / 2, y: uy - h / 2, w: w, h: h });
  }

  function whole() {
    cancelAnimation();
    setFollowing(null);
    setBox(FULL);
  }

  // Keeps a followed vehicle in the middle: the box glides as its marker does (map.css).
  function glideTo(lat, lon) {
    var at = project(lat, lon), x = at[0] - box.w / 2, y = at[1] - box.h / 2;
    if (animation || Math.abs(x - box.x) > 0.05 || Math.abs(y - box.y) > 0.05) {
      animate({ x: x, y: y, w: box.w, h: box.h }, 800);
    }
  }

  function vehicleMarker(id) {
    return svg.querySelector('.map-vehicle[data-id="' + CSS.escape(id) + '"]');
  }

  function bringIntoSight() {
    var r = svg.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) svg.scrollIntoView({ block: "nearest" });
  }

  function showVehicle(id, follow, width) {
    var marker = vehicleMarker(id);
    if (!marker) return;
    if (marker.hasAttribute("hidden") || !marker.dataset.lat) {
      setFollowing(null);
      sayView(words.nowhere.replace("{name}", marker.dataset.name || id));
      return;
    }
    sayView("");
    cancelAnimation();
    var at = project(Number(marker.dataset.lat), Number(marker.dataset.lon));
    centreOn(at[0], at[1], width || Math.min(box.w, CLOSE_M / M_PER_UNIT));
    setFollowing(follow ? id : null);
  }

  function showShape(kind, id) {
    var shape = svg.querySelector(".map-" + kind + '[data-id="' + CSS.escape(id) + '"] polygon');
    if (!shape) return;
    cancelAnimation();
    setFollowing(null);
    var b = shape.getBBox();
    var w = Math.max(b.width, b.height * FULL.w / FULL.h) * 1.3;
    centreOn(b.x + b.width / 2, b.y + b.height / 2, w);
  }

  function setFollowing(id) {
    following = id || null;
    var marker = following && vehicleMarker(following);
    var tag = document.getElementById("map-following");
    if (tag) {
      tag.hidden = !marker;
      document.getElementById("map-following-name").textContent =
        marker ? words.following.replace("{name}", marker.dataset.name) : "";
    }
    Array.prototype.forEach.call(svg.querySelectorAll(".map-vehicle"), function (m) {
      m.classList.toggle("followed", m.dataset.id === following);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".map-vehicle-list tr[data-id]"), function (row) {
      var button = row.querySelector(".map-follow");
      if (button) button.setAttribute("aria-pressed", String(row.dataset.id === following));
      row.classList.toggle("followed", row.dataset.id === following);
    });
    buttons();
    if (!settling) settling = setTimeout(settle, 0);
  }

  function stopFollowing() { if (following) setFollowing(null); }

  // Names drawn over others are hidden, in this order of importance (vehicles' never).
  var LABELS = [".map-area-name", ".map-zone-name", ".map-speaker text", ".map-stop text"];
  function declutter() {
    var frame = svg.getBoundingClientRect();
    var shown = [];
    LABELS.forEach(function (selector) {
      Array.prototype.forEach.call(svg.querySelectorAll(selector), function (label) {
        var r = label.getBoundingClientRect();
        if (r.width === 0 || r.right < frame.left || r.left > frame.right ||
            r.bottom < frame.top || r.top > frame.bottom) {
          label.classList.remove("crowded");
          return;
        }
        var hit = shown.some(function (s) {
          return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom;
        });
        label.classList.toggle("crowded", hit);
        if (!hit) shown.push(r);
      });
    });
  }

  // #map=lat,lon,metres across[,followed vehicle]: a link shows the same place.
  function writeHash() {
    var text = "";
    if (box.w < FULL.w - 1e-6 || following) {
      var c = unproject(box.x + box.w / 2, box.y + box.h / 2);
      text = "#map=" + c[0].toFixed(5) + "," + c[1].toFixed(5) + "," + Math.round(box.w * M_PER_UNIT) +
        (following ? "," + encodeURIComponent(following) : "");
    }
    if (text !== window.location.hash) {
      history.replaceState(history.state, "", text || window.location.pathname + window.location.search);
    }
  }

  function readHash() {
    var m = /^#map=(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(.+))?$/.exec(window.location.hash);
    if (!m) return false;
    cancelAnimation();
    var at = project(Number(m[1]), Number(m[2])), width = Number(m[3]) / M_PER_UNIT;
    centreOn(at[0], at[1], width);
    var id = m[4] ? decodeURIComponent(m[4]) : null;
    if (id && vehicleMarker(id)) showVehicle(id, true, width);  // where it is now, if it moved
    else setFollowing(null);
    return true;
  }

  window.addEventListener("hashchange", function () { if (!readHash()) whole(); });
  window.addEventListener("resize", function () { rescale(); setBox(box); });

  // Dragging the background moves the map (a stop's drag, handled above, does not); two
  // fingers zoom and move it. A press that moved the map is not a click.
  var pointers = {};
  var start = null;  // the one pointer's press: where, the box then, SVG units per pixel

  function unitsPerPixel() {
    var ctm = svg.getScreenCTM();
    return ctm && ctm.a ? 1 / ctm.a : box.w / (svg.getBoundingClientRect().width || 1);
  }

  function startPan(p) {
    start = { x: p.x, y: p.y, box: { x: box.x, y: box.y, w: box.w, h: box.h }, upp: unitsPerPixel() };
  }

  svg.addEventListener("pointerdown", function (event) {
    if (dragging) return;  // a stop is being dragged
    if (event.pointerType === "mouse" && event.button !== 0) return;
    pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
    var ids = Object.keys(pointers);
    if (ids.length === 1) {
      panned = false;
      startPan(pointers[ids[0]]);
    }
    cancelAnimation();
  });

  svg.addEventListener("pointermove", function (event) {
    var p = pointers[event.pointerId];
    if (!p || dragging) return;
    var ids = Object.keys(pointers);
    if (ids.length === 1) {
      p.x = event.clientX;
      p.y = event.clientY;
      if (!start) return;
      if (!panned) {
        if (Math.abs(p.x - start.x) + Math.abs(p.y - start.y) < 5) return;
        panned = true;
        stopFollowing();
        svg.classList.add("panning");
        try { svg.setPointerCapture(event.pointerId); } catch (e) { /* gone already */ }
      }
      setBox({ x: start.box.x - (p.x - start.x) * start.upp, y: start.box.y - (p.y - start.y) * start.upp,
               w: start.box.w, h: start.box.h });
      return;
    }
    if (ids.length !== 2) return;
    var other = pointers[ids[0] === String(event.pointerId) ? ids[1] : ids[0]];
    var mid0 = { x: (p.x + other.x) / 2, y: (p.y + other.y) / 2 };
    var d0 = Math.hypot(p.x - other.x, p.y - other.y);
    p.x = event.clientX;
    p.y = event.clientY;
    var mid1 = { x: (p.x + other.x) / 2, y: (p.y + other.y) / 2 };
    var d1 = Math.hypot(p.x - other.x, p.y - other.y);
    panned = true;
    stopFollowing();
    // Zoomed about what was between the fingers, then moved with their middle (in this
    // order: at the whole map the box cannot move, zoomed in a little it can).
    if (d0 > 0 && d1 > 0) {
      var at = svgPoint({ clientX: mid0.x, clientY: mid0.y });
      zoomAt(d1 / d0, at.x, at.y);
    }
    var upp = unitsPerPixel();
    setBox({ x: box.x - (mid1.x - mid0.x) * upp, y: box.y - (mid1.y - mid0.y) * upp, w: box.w, h: box.h });
  });

  function release(event) {
    if (!pointers[event.pointerId]) return;
    delete pointers[event.pointerId];
    var ids = Object.keys(pointers);
    if (ids.length === 1) startPan(pointers[ids[0]]);  // a pinch ends: the other finger moves on
    if (ids.length === 0) {
      start = null;
      svg.classList.remove("panning");
    }
  }
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);

  // The wheel (and a trackpad's pinch, which comes as a wheel with ctrlKey) zooms about the
  // pointer; a followed vehicle stays in the middle.
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    cancelAnimation();
    var dy = event.deltaY * (event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1);
    var factor = Math.exp(-dy * (event.ctrlKey ? 0.01 : 0.004));
    if (following) zoomAt(factor, box.x + box.w / 2, box.y + box.h / 2);
    else {
      var at = svgPoint(event);
      zoomAt(factor, at.x, at.y);
    }
  }, { passive: false });

  svg.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var step = 0.2;
    switch (event.key) {
      case "+": case "=": zoomMiddle(2); break;
      case "-": case "_": zoomMiddle(0.5); break;
      case "ArrowLeft": panBy(-box.w * step, 0); break;
      case "ArrowRight": panBy(box.w * step, 0); break;
      case "ArrowUp": panBy(0, -box.h * step); break;
      case "ArrowDown": panBy(0, box.h * step); break;
      case "0": case "Home": whole(); break;
      default: return;
    }
    event.preventDefault();
  });

  if (zoomIn) zoomIn.addEventListener("click", function () { zoomMiddle(2); });
  if (zoomOut) zoomOut.addEventListener("click", function () { zoomMiddle(0.5); });
  if (wholeButton) wholeButton.addEventListener("click", whole);
  var unfollow = document.getElementById("map-unfollow");
  if (unfollow) unfollow.addEventListener("click", function () { setFollowing(null); });

  // The vehicles' table: a row (or its button) centres the map on the vehicle; "follow"
  // keeps it there as its heartbeats move it, until the map is moved or it is pressed again.
  Array.prototype.forEach.call(document.querySelectorAll(".map-vehicle-list tr[data-id]"), function (row) {
    row.addEventListener("click", function (event) {
      var id = row.dataset.id;
      var follow = event.target.closest && event.target.closest(".map-follow");
      if (follow && following === id) setFollowing(null);
      else showVehicle(id, Boolean(follow));
      bringIntoSight();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".map-show-shape"), function (button) {
    button.addEventListener("click", function () {
      showShape(button.dataset.kind, button.dataset.id);
      bringIntoSight();
    });
  });

  var tools = document.getElementById("map-tools");
  if (tools) tools.hidden = false;
  if (!readHash()) setBox(FULL);
})();
