// The telnyx-emulator dashboard. Plain JavaScript, no build step, no dependencies: everything
// it shows comes from the documented API (/_emulator/* and the /_emulator/events stream) and
// every button calls the same routes a test would.
"use strict";

const PAGE_SIZE = 50; // calls per page: the DOM never holds more rows than this
const ACTIVITY_MAX = 100; // latest events kept in the activity list
const TIMELINE_MAX = 300; // timeline entries drawn for one session
const NEEDS_MEDIA = "needs #15 (media: DTMF and speech are not emulated yet)";

const state = {
  adminToken: sessionStorage.getItem("telnyx-emulator-admin-token") || "",
  apiKey: sessionStorage.getItem("telnyx-emulator-api-key") || "",
  admin: false,
  tenants: [],
  tenant: null, // the selected tenant's id
  calls: new Map(), // call_control_id -> summary
  session: null, // the selected call_session_id
  focusLeg: null,
  page: 0,
  filter: "",
  lastEventId: null,
  signatures: new Map(), // webhook id -> [{attempt, headers}]
  caps: { dtmf: false, speech: false },
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// -- talking to the emulator --------------------------------------------------------------------

function headers(tenantScoped, extra = {}) {
  const h = { ...extra };
  if (state.adminToken) h["X-Emulator-Admin-Token"] = state.adminToken;
  if (state.admin) {
    if (tenantScoped && state.tenant) h["X-Emulator-Tenant"] = state.tenant;
  } else if (state.apiKey) {
    h["Authorization"] = "Bearer " + state.apiKey;
  }
  return h;
}

async function api(method, path, body, extraHeaders) {
  const init = { method, headers: headers(true, extraHeaders) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const errs = (json && json.errors) || [];
    const why = errs.map((e) => `${e.code} ${e.title}: ${e.detail}`).join("; ") || res.statusText;
    const err = new Error(`${method} ${path} → ${res.status}: ${why}`);
    err.status = res.status;
    err.errors = errs;
    throw err;
  }
  return json;
}

function say(message) {
  $("action-status").textContent = message;
}

// -- start-up: who am I, which tenants ---------------------------------------------------------

async function start() {
  let tenants;
  try {
    tenants = await fetchJSON("/_emulator/tenants", headers(false));
  } catch (err) {
    if (err.status === 401) return askForSecret(err);
    $("stream-status").textContent = "The emulator did not answer: " + err.message;
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  state.admin = Boolean(tenants.admin);
  setTenants(tenants.data);
  $("sim-key-box").hidden = !state.admin;
  loadCapabilities();
  connect();
  await reloadTenant();
}

async function fetchJSON(path, h) {
  const res = await fetch(path, { headers: h });
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((json && json.errors && json.errors[0].detail) || res.statusText);
    err.status = res.status;
    err.errors = (json && json.errors) || [];
    throw err;
  }
  return json;
}

function askForSecret(err) {
  const detail = (err.errors[0] && err.errors[0].detail) || "";
  const wantsAdmin = detail.includes("Admin-Token");
  state.loginKind = wantsAdmin ? "admin" : "key";
  $("login-label").textContent = wantsAdmin
    ? "Admin token (the server runs with --admin-token)"
    : "API key (the server accepts only --api-key keys)";
  if (state.adminToken || state.apiKey) $("login-error").textContent = "That was not accepted.";
  $("login").hidden = false;
  $("app").hidden = true;
  $("stream-status").textContent = "Signed out";
  $("login-secret").focus();
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const secret = $("login-secret").value.trim();
  if (state.loginKind === "admin") {
    state.adminToken = secret;
    sessionStorage.setItem("telnyx-emulator-admin-token", secret);
  } else {
    state.apiKey = secret;
    sessionStorage.setItem("telnyx-emulator-api-key", secret);
  }
  $("login-secret").value = "";
  start();
});

function setTenants(list) {
  state.tenants = list;
  if (!list.some((t) => t.id === state.tenant)) state.tenant = list.length ? list[0].id : null;
  const select = $("tenant");
  select.replaceChildren(
    ...list.map((t) =>
      el("option", { value: t.id, selected: t.id === state.tenant, text: `${t.label} (${t.calls} calls)` })
    )
  );
  $("tenant-box").hidden = list.length === 0;
  select.hidden = list.length < 2;
  $("tenant-single").textContent = list.length === 1 ? list[0].label : "";
}

$("tenant").addEventListener("change", () => {
  state.tenant = $("tenant").value;
  state.session = null;
  reloadTenant();
});

async function refreshTenants() {
  const tenants = await fetchJSON("/_emulator/tenants", headers(false));
  const before = state.tenant;
  setTenants(tenants.data);
  if (state.tenant !== before) await reloadTenant();
}

// The tenant id the server derives from a key (emulator/tenancy.py): "t-" + 12 hex of SHA-256.
async function tenantId(key) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return "t-" + hex.slice(0, 12);
}

async function loadCapabilities() {
  try {
    const doc = await fetchJSON("/openapi.json", {});
    const paths = Object.keys(doc.paths || {});
    state.caps.dtmf = paths.includes("/_emulator/calls/{call_control_id}/dtmf");
    state.caps.speech = paths.includes("/_emulator/calls/{call_control_id}/speech");
  } catch (err) {
    /* no capabilities: the media buttons stay disabled */
  }
  renderSession();
}

async function reloadTenant() {
  state.calls.clear();
  if (state.tenant || !state.admin) {
    const calls = await api("GET", "/_emulator/calls");
    for (const c of calls.data) state.calls.set(c.call_control_id, c);
    await loadFaults();
  }
  renderCalls();
  await loadSession();
}

// -- the event stream ---------------------------------------------------------------------------

let streamAbort = null;

async function connect() {
  if (streamAbort) streamAbort.abort();
  streamAbort = new AbortController();
  const h = headers(false, { Accept: "text/event-stream" });
  if (state.lastEventId !== null) h["Last-Event-ID"] = String(state.lastEventId);
  try {
    const res = await fetch("/_emulator/events", { headers: h, signal: streamAbort.signal });
    if (!res.ok) throw new Error("the stream answered " + res.status);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n"); // the server sends LF; any other is tolerated
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        dispatch(parseBlock(block));
      }
    }
  } catch (err) {
    if (err.name === "AbortError") return;
  }
  $("stream-status").textContent = "Reconnecting…";
  setTimeout(connect, 1000);
}

function parseBlock(block) {
  const msg = { event: "message", data: "", id: null };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") msg.event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") msg.id = value;
  }
  msg.data = data.join("\n");
  return msg;
}

let sessionReload = null;
let tenantsReload = null;

function dispatch(msg) {
  if (msg.event === "message" && !msg.data) return; // keep-alive
  if (msg.id !== null) state.lastEventId = Number(msg.id);
  if (msg.event === "ready") {
    $("stream-status").textContent = "● Live";
    return;
  }
  if (msg.event === "resync") {
    refreshTenants().then(reloadTenant);
    return;
  }
  const ev = JSON.parse(msg.data);
  addActivity(ev);
  if (ev.type === "attempt") {
    // Kept whatever the tenant: a tenant the page has not listed yet may be picked next.
    const list = state.signatures.get(ev.data.webhook_id) || [];
    list.push({ attempt: ev.data.attempt.attempt, headers: ev.data.headers });
    state.signatures.set(ev.data.webhook_id, list);
  }
  if (!state.tenants.some((t) => t.id === ev.tenant)) {
    clearTimeout(tenantsReload);
    tenantsReload = setTimeout(refreshTenants, 200);
    return;
  }
  if (ev.tenant !== state.tenant) return;
  if (ev.type === "call") {
    state.calls.set(ev.call_control_id, ev.data);
    scheduleRender();
  } else if (ev.type === "reset") {
    state.session = null;
    reloadTenant();
    return;
  }
  if (state.session && ev.call_session_id === state.session) {
    clearTimeout(sessionReload);
    sessionReload = setTimeout(loadSession, 100);
  }
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    renderCalls();
    renderLegs();
  });
}

// -- the calls list -----------------------------------------------------------------------------

function visibleCalls() {
  const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const all = [...state.calls.values()].reverse(); // newest first
  if (!words.length) return all;
  return all.filter((c) => {
    const hay = [c.call_control_id, c.from, c.to, c.state, c.scenario, c.direction, c.connection_id]
      .join(" ")
      .toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

function legName(c) {
  return c.direction === "incoming" ? "A · incoming" : "B · outgoing";
}

function renderCalls() {
  const calls = visibleCalls();
  const pages = Math.max(1, Math.ceil(calls.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  const rows = calls.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE).map((c) =>
    el(
      "tr",
      { "aria-selected": c.call_session_id === state.session ? "true" : "false" },
      el(
        "td",
        {},
        el("button", {
          type: "button",
          class: "link",
          "data-call": c.call_control_id,
          "aria-label": `Open call ${c.from} to ${c.to}, ${c.state}`,
          text: shortId(c.call_control_id),
          onclick: () => openSession(c),
        })
      ),
      el("td", { text: legName(c) }),
      el("td", { text: c.from }),
      el("td", { text: c.to }),
      el("td", { class: "state state-" + c.state, text: stateText(c) }),
      el("td", { text: c.scenario || "—" }),
      el("td", { text: c.connection_id }),
      el("td", { text: clock(c.start_time) })
    )
  );
  $("calls-body").replaceChildren(...rows);
  $("calls-count").textContent = `${calls.length} of ${state.calls.size} legs`;
  $("page-info").textContent = `Page ${state.page + 1} of ${pages}`;
  $("prev-page").disabled = state.page === 0;
  $("next-page").disabled = state.page >= pages - 1;
}

function stateText(c) {
  if (c.state !== "hangup") return c.state;
  return `hangup (${c.hangup_cause || "?"}, by ${c.hangup_source || "?"})`;
}

function shortId(id) {
  return id.length > 18 ? id.slice(0, 8) + "…" + id.slice(-6) : id;
}

function clock(iso) {
  return iso ? iso.slice(11, 23) : "";
}

$("prev-page").addEventListener("click", () => {
  state.page = Math.max(0, state.page - 1);
  renderCalls();
});
$("next-page").addEventListener("click", () => {
  state.page += 1;
  renderCalls();
});
$("call-filter").addEventListener("input", () => {
  state.filter = $("call-filter").value;
  state.page = 0;
  renderCalls();
});

// -- one call session: both legs, their commands and webhooks ----------------------------------

function openSession(c) {
  state.session = c.call_session_id;
  state.focusLeg = c.call_control_id;
  renderCalls();
  loadSession().then(() => $("session-heading").focus());
}

function sessionLegs() {
  return [...state.calls.values()].filter((c) => c.call_session_id === state.session);
}

let sessionData = { commands: [], webhooks: [] };

async function loadSession() {
  if (!state.session) {
    sessionData = { commands: [], webhooks: [] };
    renderSession();
    return;
  }
  const legs = sessionLegs();
  const commands = [];
  const webhooks = [];
  await Promise.all(
    legs.map(async (leg) => {
      const q = "?call_control_id=" + encodeURIComponent(leg.call_control_id);
      const [c, w] = await Promise.all([
        api("GET", "/_emulator/commands" + q),
        api("GET", "/_emulator/webhooks" + q),
      ]);
      commands.push(...c.data);
      webhooks.push(...w.data);
    })
  );
  sessionData = { commands, webhooks };
  renderSession();
}

function renderSession() {
  const has = Boolean(state.session);
  $("session-empty").hidden = has;
  $("session-body").hidden = !has;
  if (!has) return;
  renderLegs();
  renderTimeline();
}

function renderLegs() {
  if (!state.session) return;
  const legs = sessionLegs();
  $("legs").replaceChildren(
    ...legs.map((c) => {
      const alive = c.state !== "hangup";
      const media = (cap, label, path, field) =>
        el("button", {
          type: "button",
          disabled: !(alive && state.caps[cap]),
          title: state.caps[cap] ? `${label} as the person on the line` : NEEDS_MEDIA,
          "aria-description": state.caps[cap] ? null : NEEDS_MEDIA,
          text: label,
          onclick: () => mediaAction(c, path, field, label),
        });
      return el(
        "div",
        { class: "leg" },
        el("h3", { text: `${legName(c)}: ${c.from} → ${c.to}` }),
        el(
          "p",
          {},
          `State: ${stateText(c)} · scenario ${c.scenario || "—"} · connection ${c.connection_id}`
        ),
        el("p", { class: "mono", text: c.call_control_id }),
        el(
          "div",
          { class: "buttons" },
          el("button", {
            type: "button",
            disabled: !alive,
            title: alive ? "The far end hangs up (call.hangup, normal_clearing)" : "This leg has ended",
            text: "Hang up as the " + (c.direction === "incoming" ? "caller" : "callee"),
            "data-action": "hangup",
            onclick: () => hangUp(c),
          }),
          media("dtmf", "Press digits", "dtmf", "digits"),
          media("speech", "Say text", "speech", "text")
        )
      );
    })
  );
}

function legLetter(ccid) {
  const c = state.calls.get(ccid);
  return c ? (c.direction === "incoming" ? "A" : "B") : "?";
}

function renderTimeline() {
  const items = [];
  for (const c of sessionData.commands) items.push({ at: c.at, kind: "command", c });
  for (const w of sessionData.webhooks) items.push({ at: w.body.data.occurred_at, kind: "webhook", w });
  // A command is journaled just after the webhooks it caused: (chosen) it is drawn 1 ms earlier
  // than its timestamp, so it comes before them.
  const micros = (i) =>
    Date.parse(i.at.slice(0, 23) + "Z") * 1000 + Number(i.at.slice(23, 26) || 0) - (i.kind === "command" ? 1000 : 0);
  items.sort((a, b) => micros(a) - micros(b));
  const shown = items.slice(-TIMELINE_MAX);
  $("timeline").replaceChildren(
    ...(items.length > shown.length
      ? [el("li", { class: "note", text: `${items.length - shown.length} earlier entries not shown` })]
      : []),
    ...shown.map((item) => (item.kind === "command" ? commandItem(item.c) : webhookItem(item.w)))
  );
}

function commandItem(c) {
  const ok = c.result !== "rejected";
  const mark = ok ? (c.result === "duplicate" ? "= duplicate" : "✓ accepted") : "✗ rejected";
  const summary = el(
    "summary",
    {},
    el("span", { class: "time", text: clock(c.at) }),
    el("span", { class: "dir", text: `app → emulator · leg ${legLetter(c.call_control_id)}` }),
    el("strong", { text: c.command }),
    ` ${c.method} ${c.path} → ${c.status} `,
    el("span", { class: ok ? "ok" : "bad", text: mark }),
    c.fault ? el("span", { class: "fault", text: ` ⚡ fault: ${c.fault}` }) : null
  );
  const why = c.errors.length
    ? el(
        "ul",
        { class: "errors", "aria-label": "Why it was refused" },
        ...c.errors.map((e) =>
          el("li", { text: `${e.code} ${e.title}: ${e.detail}${e.source && e.source.pointer ? " (" + e.source.pointer + ")" : ""}` })
        )
      )
    : null;
  return el(
    "li",
    { class: "command" },
    why,
    el("details", {}, summary, el("p", { text: "Request body (secrets redacted):" }), pre(c.body))
  );
}

function attemptText(a) {
  const outcome = a.status !== null ? `HTTP ${a.status}` : a.error || "…";
  const latency = a.latency_ms !== null ? ` in ${a.latency_ms.toFixed(1)} ms` : "";
  const fault = a.fault ? ` ⚡ ${a.fault}` : "";
  return `#${a.attempt} → ${a.url}: ${outcome}${latency}${fault}`;
}

const STATUS_MARK = {
  delivered: "✓ delivered",
  recorded: "✓ recorded",
  failed: "✗ failed",
  pending: "… pending",
  not_sent: "– not sent (no webhook URL)",
  blocked: "✗ blocked (--webhook-allow)",
};

const STATUS_CLASS = { delivered: "ok", recorded: "ok", failed: "bad", blocked: "bad" };

function webhookItem(w) {
  const failover = w.attempts.some((a) => w.url && a.url !== w.url);
  const summary = el(
    "summary",
    {},
    el("span", { class: "time", text: clock(w.body.data.occurred_at) }),
    el("span", { class: "dir", text: `emulator → app · leg ${legLetter(w.call_control_id)}` }),
    el("strong", { text: w.event_type }),
    ` ${w.method} `,
    el("span", { class: STATUS_CLASS[w.status] || "", text: STATUS_MARK[w.status] || w.status }),
    ` · ${w.attempts.length} attempt${w.attempts.length === 1 ? "" : "s"}`,
    failover ? " · failover" : "",
    w.faults.length ? el("span", { class: "fault", text: ` ⚡ ${w.faults.join(", ")}` }) : null
  );
  const sigs = state.signatures.get(w.id) || [];
  return el(
    "li",
    { class: "webhook", "data-event-type": w.event_type },
    el(
      "details",
      {},
      summary,
      el("ol", { class: "attempts", "aria-label": "Delivery attempts" }, ...w.attempts.map((a) => el("li", { text: attemptText(a) }))),
      el("p", { text: "Body:" }),
      pre(w.body),
      sigs.length
        ? el("div", {}, el("p", { text: "Signature headers (per attempt):" }), pre(sigs))
        : el("p", { class: "note", text: "Signature headers are shown for attempts made while this page was open." })
    )
  );
}

function pre(value) {
  return el("pre", { class: "json", tabindex: "0", text: JSON.stringify(value, null, 2) });
}

// -- actions: each one is the API call a test would make ---------------------------------------

async function act(label, fn) {
  try {
    await fn();
    say(label + ": done");
  } catch (err) {
    say(label + " failed: " + err.message);
  }
}

function hangUp(c) {
  act("Hang up", () => api("POST", `/_emulator/calls/${encodeURIComponent(c.call_control_id)}/hangup`));
}

function mediaAction(c, path, field, label) {
  const value = prompt(label + ":");
  if (!value) return;
  act(label, () => api("POST", `/_emulator/calls/${encodeURIComponent(c.call_control_id)}/${path}`, { [field]: value }));
}

$("simulate-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { from: $("sim-from").value.trim(), to: $("sim-to").value.trim() };
  const url = $("sim-webhook").value.trim();
  if (url) body.webhook_url = url;
  const after = $("sim-hangup").value.trim();
  if (after) body.hangup_after_secs = Number(after);
  const key = state.admin ? $("sim-key").value.trim() : "";
  if (state.admin && !key && !state.tenant) {
    say("Type an API key first: it names the new tenant.");
    $("sim-key").focus();
    return;
  }
  const extra = key ? { Authorization: "Bearer " + key } : {};
  act("Simulate call", async () => {
    const init = { method: "POST", headers: { ...headers(!key), ...extra, "Content-Type": "application/json" }, body: JSON.stringify(body) };
    if (key) delete init.headers["X-Emulator-Tenant"];
    const res = await fetch("/_emulator/calls", init);
    const json = await res.json();
    if (!res.ok) throw new Error(json.errors.map((e) => `${e.code} ${e.detail}`).join("; "));
    if (key) {
      $("sim-key").value = "";
      const id = await tenantId(key);
      const tenants = await fetchJSON("/_emulator/tenants", headers(false));
      state.tenant = id;
      setTenants(tenants.data);
      await reloadTenant();
    }
    state.calls.set(json.data.call_control_id, json.data);
    openSession(json.data);
  });
});

async function loadFaults() {
  try {
    const f = await api("GET", "/_emulator/faults");
    $("faults-now").textContent = JSON.stringify(f.data, null, 2);
  } catch (err) {
    $("faults-now").textContent = err.message;
  }
}

$("faults-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const delivery = $("fault-delivery").value.trim();
  const commands = $("fault-commands").value.trim();
  act("Set faults", async () => {
    await api("PUT", "/_emulator/faults", { delivery: delivery || null, commands: commands || null });
    await loadFaults();
  });
});

$("reset").addEventListener("click", () => {
  act("Reset", async () => {
    await api("POST", "/_emulator/reset");
    state.session = null;
    await reloadTenant();
  });
});

// -- the activity list --------------------------------------------------------------------------

function addActivity(ev) {
  const d = ev.data;
  let text;
  if (ev.type === "command") text = `${d.command} → ${d.status} ${d.result}`;
  else if (ev.type === "webhook") text = `${d.event_type} queued for ${d.url || "(no URL)"}`;
  else if (ev.type === "attempt") text = `${d.event_type} ${attemptText(d.attempt)} (${d.webhook_status})`;
  else if (ev.type === "call") text = `leg ${shortId(d.call_control_id)} is ${d.state}`;
  else text = "tenant reset";
  const tenant = state.tenants.find((t) => t.id === ev.tenant);
  const item = el(
    "li",
    { "data-type": ev.type },
    el("span", { class: "time", text: clock(ev.at) }),
    el("span", { class: "kind", text: ev.type }),
    state.tenants.length > 1 && tenant ? `[${tenant.label}] ` : "",
    text
  );
  const list = $("activity-list");
  list.prepend(item);
  while (list.childElementCount > ACTIVITY_MAX) list.lastElementChild.remove();
}

start();
