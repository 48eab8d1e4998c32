// The map page (web/panel/map_views.py): vehicles' markers follow their latest fixes, polled
// from /map/live every few seconds, with today's tracks; admins drag route stops (saved at
// once). The same projection as the server's (equirectangular, fitted).
(function () {
  "use strict";
  var svg = document.getElementById("map");
  if (!svg) return;
  var view = JSON.parse(svg.dataset.view);
  var words = document.getElementById("map-words").dataset;
  var every = Number(svg.dataset.every) || 3000;

  // SVG units per screen pixel (at least 1): map.css scales names and markers by it.
  function rescale() {
    var width = svg.getBoundingClientRect().width;
    if (width > 0) svg.style.setProperty("--k", Math.max(1, view.width / width).toFixed(3));
  }
  rescale();
  window.addEventListener("resize", rescale);

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
    if (!placing) return;
    var p = placing;
    placing = null;
    var at = svgPoint(event), place = unproject(at.x, at.y);
    var route = svg.querySelector('.map-route[data-id="' + CSS.escape(p.id) + '"]');
    if (!route) return;
    save(route, Number(p.button.dataset.index), p.button.dataset.name, place[0], place[1])
      .then(function () { window.location.reload(); }, function () {});
  });
})();
