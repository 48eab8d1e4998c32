// The map page (web/panel/map.py): vehicles' markers follow their latest fixes, polled from
// /map/live every few seconds; the same projection as the server's (equirectangular, fitted).
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

  function refresh() {
    fetch(svg.dataset.live, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        data.vehicles.forEach(function (v) {
          var marker = svg.querySelector('.map-vehicle[data-id="' + CSS.escape(v.id) + '"]');
          var row = document.querySelector('.map-vehicle-list tr[data-id="' + CSS.escape(v.id) + '"]');
          if (marker) {
            marker.classList.toggle("offline", !v.online);
            if (v.fix) place(marker, v.fix.lat, v.fix.lon);
          }
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
})();
