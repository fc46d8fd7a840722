// Smart Album trips: the list (each trip opens as its own page), home shown as a place name
// and set from the page (a town by name, a trip's place, or learned again), and one trip's
// page with every photo in a grid the viewer opens.
"use strict";

(() => {
  const A = window.smartalbumActions;
  const { t, el } = A;
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const view = document.body.dataset.view;

  function when(trip) {
    const start = A.formatDate(trip.start);
    const end = A.formatDate(trip.end);
    return start === end ? start : `${start} – ${end}`;
  }

  // The trip's title in the page's language: its top places (as the server ranks them) and
  // the month(s), e.g. "Arezzo and Florence, May 2024" / "Arezzo和Florence，2024年5月".
  const locale = (window.smartalbumI18n && window.smartalbumI18n.locale) || undefined;
  function title(trip) {
    const names = (trip.places || []).slice(0, 3).map((p) => p.name);
    if (!names.length || typeof Intl.ListFormat !== "function") return trip.title;
    const list = new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(names);
    const month = new Intl.DateTimeFormat(locale, { month: "long", year: "numeric" });
    const start = new Date(trip.start);
    const end = new Date(trip.end);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return trip.title;
    const a = month.format(start);
    const b = month.format(end);
    return t("{places}, {months}", { places: list, months: a === b ? a : `${a} – ${b}` });
  }

  function homeText(home) {
    if (!home) return t("Home unknown: no photo has a GPS position.");
    const where = home.name || `${home.latitude.toFixed(3)}, ${home.longitude.toFixed(3)}`;
    const how = { library: t("set here"), user: t("from the settings"), learned: t("learned from your photos") }[home.source] || home.source;
    return t("Home: {place} ({how})", { place: where, how });
  }

  async function setHome(body) {
    try {
      const done = await A.send("PUT", `${API}/trips/home`, body);
      A.announce(homeText(done.home));
      await loadList();
    } catch (err) {
      A.notice(t("Could not set home: {why}", { why: err.message }));
    }
  }

  async function loadList() {
    let body;
    try {
      body = await A.getJson(`${API}/trips`);
    } catch (err) {
      A.notice(t("Could not load the trips: {why}", { why: err.message }));
      return;
    }
    A.notice("");
    $("trips-home").textContent = homeText(body.home);
    const list = $("trips");
    list.replaceChildren();
    $("empty").hidden = body.trips.length > 0;
    for (const trip of body.trips) {
      const li = $("trip-template").content.firstElementChild.cloneNode(true);
      li.dataset.trip = trip.id;
      const link = li.querySelector(".trip-link");
      link.textContent = title(trip);
      link.href = `/trips/${encodeURIComponent(trip.id)}`;
      li.querySelector(".trip-open").href = link.href;
      li.querySelector(".trip-when").textContent = when(trip);
      const places = trip.places.slice(0, 4).map((p) => p.name).join(", ");
      li.querySelector(".trip-facts").textContent = t("{count} photos · {places} · {km} km from home at most", {
        count: trip.photos, places: places || "–", km: Math.round(trip.farthest_km),
      });
      const scenes = li.querySelector(".trip-scenes");
      for (const [label, count] of Object.entries(trip.labels)) {
        scenes.appendChild(el("li", "chip", `${label} ${count}`));
      }
      const preview = li.querySelector(".trip-preview");
      for (const p of trip.preview) preview.appendChild(A.photoTile(p.id, p.thumbnail, t("Photo {id} of {trip}", { id: p.id, trip: title(trip) }), "trip-photo"));
      const [lat, lon] = trip.centroid || [];
      li.querySelector(".trip-home").addEventListener("click", async () => {
        const ok = await A.confirmDialog(t("Set home here?"), t("Home becomes the centre of “{trip}”; trips are found again from there.", { trip: title(trip) }), t("Set home"));
        if (ok) setHome({ latitude: lat, longitude: lon });
      });
      list.appendChild(li);
    }
    A.announce(t("{count} trips", { count: body.trips.length }));
  }

  function initList() {
    const input = $("home-place");
    const options = $("home-places");
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2) return;
      timer = setTimeout(async () => {
        try {
          const found = await A.getJson(`${API}/places?${new URLSearchParams({ q })}`);
          options.replaceChildren(...found.places.map((p) => { const o = el("option"); o.value = p.name; return o; }));
        } catch { /* suggestions are optional */ }
      }, 250);
    });
    $("home-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const place = input.value.split(",")[0].trim();
      if (place) setHome({ place });
    });
    $("home-clear").addEventListener("click", () => setHome({ clear: true }));
    loadList();
  }

  async function initTrip() {
    const id = document.body.dataset.tripId;
    let trip;
    try {
      trip = await A.getJson(`${API}/trips/${encodeURIComponent(id)}`);
    } catch (err) {
      A.notice(err.status === 404 ? t("No such trip (the trips change when photos are added or home moves).") : t("Could not load the trip: {why}", { why: err.message }));
      return;
    }
    document.title = `${title(trip)} · Smart Album`;
    $("view-title").textContent = title(trip);
    $("trip-when").textContent = when(trip);
    const places = (trip.places || []).map((p) => p.name).join(", ");
    $("trip-facts").textContent = t("{count} photos · {places}", { count: trip.photos.length, places: places || "–" });
    const grid = $("trip-photos");
    grid.replaceChildren(...trip.photos.map((p) => A.photoTile(p.id, p.thumbnail, t("Photo {id}, {when}", { id: p.id, when: A.formatDate(p.taken_at, true) }))));
  }

  if (view === "trips-actions") initList();
  else if (view === "trip-actions") initTrip();
})();
