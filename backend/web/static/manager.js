// The manager page: log in, pick a team and a day, see each agent's route, visits and points
// on a map, the timeline, the plan against what happened, and write coaching notes.
// Plain JavaScript against the public API; the token lives in this tab's sessionStorage.
"use strict";

const cfg = window.FIELDSENSE_MAP || { tiles: "", attribution: "" };
const OSM_CREDIT = "Routes © OpenStreetMap contributors";
const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem("fieldsense.token");
let map = null;
let layers = null;
let agents = [];
let zone = "UTC"; // the agent's time zone: times show as they read on the agent's day

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const resp = await fetch(path, { ...options, headers });
  if (resp.status === 401) {
    logout();
    throw new Error("please log in again");
  }
  const body = resp.status === 204 ? null : await resp.json();
  if (!resp.ok) {
    const field = body && body.errors && body.errors[0] ? ` (${body.errors[0].field})` : "";
    throw new Error(((body && body.detail) || resp.statusText) + field);
  }
  return body;
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function hhmm(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone,
  }).format(new Date(iso));
}

function minutes(seconds) {
  return `${Math.round(seconds / 60)} min`;
}

function logout() {
  token = null;
  sessionStorage.removeItem("fieldsense.token");
  $("#day-view").hidden = true;
  $("#login-view").hidden = false;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#login-error").textContent = "";
  try {
    const body = await api("/auth/login", {
      method: "POST",
      body: JSON.stringify(Object.fromEntries(form.entries())),
    });
    token = body.access_token;
    sessionStorage.setItem("fieldsense.token", token);
    await start();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
}

function setupMap() {
  if (map) return;
  map = L.map("map", { zoomControl: true }).setView([37.55, 126.98], 12);
  if (cfg.tiles) {
    L.tileLayer(cfg.tiles, { attribution: cfg.attribution, maxZoom: 19 }).addTo(map);
  } else {
    $("#map").classList.add("plain"); // offline: a plain background, the shapes still draw
  }
  layers = L.layerGroup().addTo(map);
}

async function start() {
  const me = await api("/auth/me");
  $("#who").textContent = `signed in as ${me.role}`;
  $("#login-view").hidden = true;
  $("#day-view").hidden = false;
  setupMap();
  const page = await api("/org-units?kind=team&limit=500");
  const teams = $("#team");
  teams.replaceChildren(...page.items.map((u) => {
    const opt = text("option", u.name);
    opt.value = u.id;
    return opt;
  }));
  if (!$("#day").value) $("#day").value = new Date().toISOString().slice(0, 10);
}

async function openDay(event) {
  if (event) event.preventDefault();
  $("#day-error").textContent = "";
  try {
    const team = $("#team").value;
    const page = await api(`/users?org_unit_id=${team}&role=agent&limit=500`);
    agents = page.items;
    $("#agent").replaceChildren(...agents.map((a) => {
      const opt = text("option", a.name);
      opt.value = a.id;
      return opt;
    }));
    if (!agents.length) throw new Error("no agents in this team");
    await showAgent();
  } catch (err) {
    $("#day-error").textContent = err.message;
  }
}

async function showAgent() {
  const agentId = $("#agent").value;
  const day = $("#day").value;
  const data = await api(`/agents/${agentId}/days/${day}`);
  zone = data.timezone || "UTC";
  drawMap(data);
  drawSummary(data);
  drawPlan(data.plan_against_actual);
  drawTimeline(data.timeline);
  await loadNotes();
}

function drawMap(data) {
  layers.clearLayers();
  const bounds = [];
  // Routes along the streets are drawn from OpenStreetMap data (ODbL): say so on the map.
  map.attributionControl.removeAttribution(OSM_CREDIT);
  if (data.route_travel === "roads" || data.route_travel === "mixed") {
    map.attributionControl.addAttribution(OSM_CREDIT);
  }
  if (data.route && data.route.coordinates.length) {
    const line = data.route.coordinates.map(([lon, lat]) => [lat, lon]);
    L.polyline(line, { color: "#2563eb", weight: 4, className: "route-line" }).addTo(layers);
    bounds.push(...line);
  }
  const track = data.track.coordinates.map(([lon, lat]) => [lat, lon]);
  if (track.length) {
    L.polyline(track, { color: "#64748b", weight: 2, dashArray: "4 4", className: "track-line" }).addTo(layers);
    track.forEach((p) => L.circleMarker(p, { radius: 2, color: "#64748b", className: "ping" }).addTo(layers));
    bounds.push(...track);
  }
  data.timeline.filter((i) => i.kind === "visit" && i.lat != null).forEach((v) => {
    const color = v.planned ? "#15803d" : "#b45309";
    L.circleMarker([v.lat, v.lon], { radius: 7, color, fillOpacity: 0.8, className: "visit" })
      .bindTooltip(`${hhmm(v.start)} ${v.customer_name || "visit"} (${v.source})`)
      .addTo(layers);
    bounds.push([v.lat, v.lon]);
  });
  if (bounds.length) map.fitBounds(bounds, { padding: [20, 20] });
}

function drawSummary(d) {
  const rows = [
    ["Visits", d.visits],
    ["On site", minutes(d.time_on_site_s)],
    ["Travelling", minutes(d.travelling_s)],
    ["Idle", minutes(d.idle_s)],
    ["Distance", `${(d.distance_m / 1000).toFixed(1)} km`],
    ["First / last", `${hhmm(d.first_activity_at)} – ${hhmm(d.last_activity_at)}`],
    ["Plan adherence", d.plan_against_actual.adherence == null ? "no plan" : `${Math.round(d.plan_against_actual.adherence * 100)} %`],
  ];
  $("#summary").replaceChildren(...rows.flatMap(([k, v]) => [text("dt", k), text("dd", String(v))]));
}

function drawPlan(pva) {
  const body = $("#pva tbody");
  body.replaceChildren(...pva.stops.map((s) => {
    const tr = document.createElement("tr");
    tr.append(text("td", s.seq), text("td", s.customer_name || s.customer_id.slice(0, 8)),
      text("td", hhmm(s.planned_at)), text("td", hhmm(s.arrived_at)),
      text("td", s.status, `status-${s.status}`));
    return tr;
  }));
  if (pva.unplanned) {
    const tr = document.createElement("tr");
    const td = text("td", `${pva.unplanned} unplanned visit(s)`);
    td.colSpan = 5;
    tr.append(td);
    body.append(tr);
  }
}

function drawTimeline(items) {
  $("#timeline").replaceChildren(...items.map((i) => {
    const what = i.kind === "visit"
      ? `visit ${i.customer_name || ""} (${i.source}${i.outcome ? ", " + i.outcome : ""})`
      : i.kind === "travel" ? `travel ${(i.distance_m / 1000).toFixed(1)} km` : i.kind.replace("_", " ");
    return text("li", `${hhmm(i.start)}–${hhmm(i.end)} ${what}, ${minutes(i.duration_s)}`, `kind-${i.kind}`);
  }));
}

async function loadNotes() {
  const agentId = $("#agent").value;
  const day = $("#day").value;
  const notes = await api(`/coaching-notes?agent_id=${agentId}&since=${day}&until=${day}`);
  $("#notes").replaceChildren(...notes.map((n) => {
    const li = document.createElement("li");
    li.className = "note";
    li.append(text("div", n.body, "note-body"),
      text("div", `${n.author_name} · ${new Date(n.created_at).toLocaleString()}${n.acknowledged_at ? " · acknowledged" : ""}`, "note-meta"));
    n.replies.forEach((r) => li.append(text("div", `↳ ${r.author_name}: ${r.body}`, "note-reply")));
    return li;
  }));
}

async function saveNote(event) {
  event.preventDefault();
  $("#note-error").textContent = "";
  try {
    await api("/coaching-notes", {
      method: "POST",
      body: JSON.stringify({
        agent_id: $("#agent").value,
        day: $("#day").value,
        body: $("#note-body").value,
      }),
    });
    $("#note-body").value = "";
    await loadNotes();
  } catch (err) {
    $("#note-error").textContent = err.message;
  }
}

$("#login-form").addEventListener("submit", login);
$("#pick-form").addEventListener("submit", openDay);
$("#agent").addEventListener("change", () => showAgent().catch((e) => { $("#day-error").textContent = e.message; }));
$("#note-form").addEventListener("submit", saveNote);
if (token) start().catch(logout);
