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

// The page's language: the user's (GET /auth/me says it: their setting, else what the browser
// asks for), before login the browser's. Texts come from the server's catalog
// (/manager/i18n/{lang}, backend/i18n/<lang>/LC_MESSAGES/web.po): an element marked
// data-i18n has its English text as the key; t(text, ...values) fills its {} in order
// ({0}, {1} where the language orders them otherwise). Dates and numbers: Intl, the same locale.
const LANGUAGES = ["en", "ko"];
let lang = "en";
let catalog = {};

function t(msgid, ...values) {
  const text = (lang !== "en" && catalog[msgid]) || msgid;
  let next = 0;
  return text.replace(/\{(\d*)\}/g, (m, k) => {
    const i = k === "" ? next++ : Number(k);
    return i < values.length ? String(values[i]) : m;
  });
}

const N_ = (msgid) => msgid; // a text for the catalog, translated where it is shown

function intlLocale() {
  return lang === "ko" ? "ko-KR" : "en-GB";
}

function browserLanguage() {
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

async function setLanguage(next) {
  if (!LANGUAGES.includes(next)) next = "en";
  if (next !== "en") {
    const resp = await fetch(`/manager/i18n/${next}`);
    catalog = resp.ok ? await resp.json() : {};
  }
  lang = next;
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    if (!el.dataset.msgid) el.dataset.msgid = el.textContent;
    el.textContent = t(el.dataset.msgid);
  });
  for (const attr of ["title", "aria-label"]) {
    document.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => {
      const key = `msgid${attr === "title" ? "Title" : "Label"}`;
      if (!el.dataset[key]) el.dataset[key] = el.getAttribute(attr);
      el.setAttribute(attr, t(el.dataset[key]));
    });
  }
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", "accept-language": lang, ...(options.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const resp = await fetch(path, { ...options, headers });
  if (resp.status === 401) {
    logout();
    throw new Error(t("please log in again"));
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
  return new Intl.DateTimeFormat(intlLocale(), {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone,
  }).format(new Date(iso));
}

function minutes(seconds) {
  return t("{} min", new Intl.NumberFormat(intlLocale()).format(Math.round(seconds / 60)));
}

function logout() {
  if (live.abort) live.abort.abort();
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
  await setLanguage(me.language);
  $("#who").textContent = t("signed in as {}", t(me.role));
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
    if (!agents.length) throw new Error(t("no agents in this team"));
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
  await loadWeek();
}

// The week of the chosen day (Monday to Sunday): the agent's week plan, if there is one.
function monday(day) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

function weekday(day) {
  return new Intl.DateTimeFormat(intlLocale(), { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(`${day}T00:00:00Z`));
}

async function loadWeek() {
  $("#week-error").textContent = "";
  const weeks = await api(`/week-plans?agent_id=${$("#agent").value}&week_start=${monday($("#day").value)}`);
  drawWeek(weeks[0] || null);
}

function drawWeek(week) {
  const body = $("#week tbody");
  if (!week) {
    $("#week-summary").textContent = t("no week plan for this week");
    body.replaceChildren();
    $("#week-left-out").replaceChildren();
    return;
  }
  $("#week-summary").textContent =
    t("{} of {} customers due this week planned · {} travel", week.due_planned, week.due, minutes(week.travel_s));
  body.replaceChildren(...week.days.map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.day = d.date;
    if (!d.plan) {
      const td = text("td", d.off || t("off"), "week-off");
      td.colSpan = 3;
      tr.append(text("td", weekday(d.date)), td);
      return tr;
    }
    const due = d.plan.stops.filter((s) => s.kind === "must").length;
    tr.append(text("td", weekday(d.date)), text("td", d.plan.stops.length),
      text("td", due), text("td", minutes(d.plan.travel_s)));
    return tr;
  }));
  $("#week-left-out").replaceChildren(...week.left_out.map((x) =>
    text("li", `${x.customer_name || x.customer_id.slice(0, 8)} (${t(x.kind)}): ${x.detail}`)));
}

async function planWeek() {
  $("#week-error").textContent = "";
  try {
    const body = await api("/week-plans", {
      method: "POST",
      body: JSON.stringify({ agent_id: $("#agent").value, week_start: monday($("#day").value) }),
    });
    drawWeek(body.weeks[0]);
  } catch (err) {
    $("#week-error").textContent = err.message;
  }
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
      .bindTooltip(`${hhmm(v.start)} ${v.customer_name || t("visit")} (${t(v.source)})`)
      .addTo(layers);
    bounds.push([v.lat, v.lon]);
  });
  if (bounds.length) map.fitBounds(bounds, { padding: [20, 20] });
}

function drawSummary(d) {
  const km = new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 });
  const rows = [
    [N_("Visits"), d.visits],
    [N_("On site"), minutes(d.time_on_site_s)],
    [N_("Travelling"), minutes(d.travelling_s)],
    [N_("Idle"), minutes(d.idle_s)],
    [N_("Distance"), t("{} km", km.format(d.distance_m / 1000))],
    [N_("First / last"), `${hhmm(d.first_activity_at)} – ${hhmm(d.last_activity_at)}`],
    [N_("Plan adherence"), d.plan_against_actual.adherence == null ? t("no plan") : `${Math.round(d.plan_against_actual.adherence * 100)} %`],
  ];
  $("#summary").replaceChildren(...rows.flatMap(([k, v]) => [text("dt", t(k)), text("dd", String(v))]));
}

function drawPlan(pva) {
  const body = $("#pva tbody");
  body.replaceChildren(...pva.stops.map((s) => {
    const tr = document.createElement("tr");
    tr.append(text("td", s.seq), text("td", s.customer_name || s.customer_id.slice(0, 8)),
      text("td", hhmm(s.planned_at)), text("td", hhmm(s.arrived_at)),
      text("td", t(s.status), `status-${s.status}`));
    return tr;
  }));
  if (pva.unplanned) {
    const tr = document.createElement("tr");
    const td = text("td", t("{} unplanned visit(s)", pva.unplanned));
    td.colSpan = 5;
    tr.append(td);
    body.append(tr);
  }
}

function drawTimeline(items) {
  $("#timeline").replaceChildren(...items.map((i) => {
    const what = i.kind === "visit"
      ? `${t("visit")} ${i.customer_name || ""} (${t(i.source)}${i.outcome ? ", " + t(i.outcome) : ""})`
      : i.kind === "travel" ? `${t("travel")} ${t("{} km", (i.distance_m / 1000).toFixed(1))}` : t(i.kind.replace("_", " "));
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
      text("div", `${n.author_name} · ${new Date(n.created_at).toLocaleString(intlLocale())}${n.acknowledged_at ? " · " + t("acknowledged") : ""}`, "note-meta"));
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

// Live: the team's stream (GET /live/team/{unit}, server-sent events). Read with fetch, as
// EventSource cannot send the token; on a break it reconnects with the last event's id
// (Last-Event-ID), and the server sends what was missed, in order.
const live = { abort: null, lastId: null, team: null, markers: new Map(), layer: null };

function agentName(id) {
  const a = agents.find((x) => x.id === id);
  return a ? a.name : id.slice(0, 8);
}

function liveSay(line) {
  const feed = $("#live-feed");
  feed.prepend(text("li", line));
  while (feed.children.length > 50) feed.lastChild.remove();
}

function onLive(kind, ev) {
  if (kind === "position") {
    const at = [ev.data.lat, ev.data.lon];
    let m = live.markers.get(ev.agent_id);
    if (!m) {
      m = L.circleMarker(at, { radius: 8, color: "#7c3aed", fillOpacity: 0.9, className: "live-agent" })
        .bindTooltip(agentName(ev.agent_id)).addTo(live.layer);
      live.markers.set(ev.agent_id, m);
    } else {
      m.setLatLng(at);
    }
    const el = m.getElement();
    if (el) Object.assign(el.dataset, { agent: ev.agent_id, lat: ev.data.lat, lon: ev.data.lon, fixAt: ev.data.fix_at });
    $("#live-status").textContent = t("live · {} agent(s) on the map", live.markers.size);
  } else if (kind.startsWith("visit_")) {
    liveSay(`${hhmm(ev.at)} ${agentName(ev.agent_id)}: ${t(kind.replace("_", " "))}`);
  } else if (kind === "plan_changed") {
    liveSay(`${hhmm(ev.at)} ${agentName(ev.agent_id)}: ${t("plan {} ({} stops)", t(ev.data.reason), ev.data.stops)}`);
  } else if (kind === "coaching_note") {
    liveSay(`${hhmm(ev.at)} ${t("note for {}", agentName(ev.agent_id))}`);
  } else if (kind === "reset") {
    liveSay(t("some live events were too old to resend; the day view is current"));
  }
}

function parseEvents(buffer, handle) {
  // Events end with a blank line; returns what is left of an unfinished one.
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop();
  for (const block of blocks) {
    let kind = "message";
    let id = null;
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const name = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (name === "event") kind = value;
      else if (name === "data") data.push(value);
      else if (name === "id") id = value;
    }
    if (!data.length) continue;
    if (id !== null) live.lastId = id;
    handle(kind, JSON.parse(data.join("\n")));
  }
  return rest;
}

async function follow(team) {
  const abort = new AbortController();
  live.abort = abort;
  while (!abort.signal.aborted) {
    try {
      const headers = { authorization: `Bearer ${token}`, accept: "text/event-stream" };
      if (live.lastId) headers["last-event-id"] = live.lastId;
      const resp = await fetch(`/live/team/${team}`, { headers, signal: abort.signal });
      if (resp.status === 401) { logout(); return; }
      if (!resp.ok) throw new Error(`live: ${resp.status}`);
      $("#live-status").textContent = t("live");
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseEvents(buffer + value, onLive);
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      $("#live-status").textContent = t("live: reconnecting ({})", err.message);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function setLive() {
  if (live.abort) live.abort.abort();
  live.abort = null;
  const on = $("#live").checked;
  $("#live-pane").hidden = !on;
  if (!live.layer) live.layer = L.layerGroup().addTo(map);
  if (!on) {
    live.layer.clearLayers();
    live.markers.clear();
    $("#live-status").textContent = "";
    return;
  }
  const team = $("#team").value;
  if (team !== live.team) {
    live.team = team;
    live.lastId = null;
    live.layer.clearLayers();
    live.markers.clear();
  }
  follow(team);
}

$("#login-form").addEventListener("submit", login);
$("#live").addEventListener("change", setLive);
$("#team").addEventListener("change", () => { if ($("#live").checked) setLive(); });
$("#pick-form").addEventListener("submit", openDay);
$("#agent").addEventListener("change", () => showAgent().catch((e) => { $("#day-error").textContent = e.message; }));
$("#note-form").addEventListener("submit", saveNote);
$("#plan-week").addEventListener("click", planWeek);
setLanguage(browserLanguage()).then(() => { if (token) start().catch(logout); });
