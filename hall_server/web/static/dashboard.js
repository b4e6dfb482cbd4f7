// The managers' dashboard: hall tree, live hall view over the event WebSocket, charts, exports.
"use strict";
const state = { halls: [], hall: null, lastSeq: 0, ws: null, cityLastSeq: 0, cityWs: null, wsRetry: 0, refreshTimer: null, snapshot: null, healthTimer: null,
  stations: [], stationsTimer: null };
// Devices and alerts are read again this often: a machine that went silent sends no event.
const HEALTH_POLL_MS = 5000;
const $ = id => document.getElementById(id);

const STATUS_ZH = { open: "开放", paused: "暂停", closed: "关闭" };
const EVENT_ZH = {
  "ticket.issued": "取号", "ticket.called": "叫号", "ticket.recalled": "重呼", "ticket.no_show": "过号",
  "ticket.started": "开始办理", "ticket.finished": "办结", "ticket.transferred": "转移", "ticket.suspended": "挂起",
  "ticket.called_back": "回呼", "ticket.cancelled": "取消", "ticket.expired": "日终关闭", "window.updated": "窗口变更", "clerk.logged_in": "登录",
  "clerk.logged_out": "退出", "rating.requested": "请求评价", "rating.recorded": "评价", "device.heartbeat": "设备心跳",
  "device.fault": "设备故障", "followup.opened": "差评立案", "followup.step": "整改进度",
  "staff_call.requested": "呼叫工作人员", "staff_call.acknowledged": "呼叫已处理",
};

async function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("reload-stats").addEventListener("click", () => loadStats());
  $("export-csv").addEventListener("click", () => download("csv"));
  $("export-xlsx").addEventListener("click", () => download("xlsx"));
  $("groups-form").addEventListener("submit", saveGroups);
  $("groups-form-cancel").addEventListener("click", closeGroupsForm);
  $("groups-form").addEventListener("keydown", ev => { if (ev.key === "Escape") closeGroupsForm(); });
  $("case-form").addEventListener("submit", submitCase);
  $("case-form").addEventListener("keydown", onCaseKey);
  // A validation message goes away once the visitor's answer or the note is given.
  $("case-form").addEventListener("change", ev => {
    if (ev.target.name === "satisfied" && $("case-msg").dataset.kind === "choose") clearCaseMsg();
  });
  $("case-note").addEventListener("input", () => {
    if ($("case-msg").dataset.kind === "note" && $("case-note").value.trim()) {
      clearCaseMsg();
      $("case-note").removeAttribute("aria-invalid");
    }
  });
  $("case-cancel").addEventListener("click", closeCase);
  $("case-dialog").addEventListener("close", onCaseClosed);
  window.addEventListener("hall-session-ended", onSessionEnded);
  if (!authToken()) return showLogin();
  try { await api("/auth/me"); await showApp(); } catch (e) { showLogin(); }
}

function showLogin() { $("login").hidden = false; $("app").hidden = true; $("logout").hidden = true; }

async function onLogin(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const r = await api("/auth/login", { method: "POST", body: { username: $("username").value, password: $("password").value }, noAuth: true });
    sessionStorage.setItem("hall_token", r.token);
    await showApp();
  } catch (e) { $("login-error").replaceChildren(...errorNodes(e)); }
}

// A year without a verified holiday calendar: the follow-up deadlines counted through it are provisional.
async function loadCalendarFlag() {
  try {
    const bad = (await api("/calendars")).filter(y => !y.verified);
    $("cal-flag").hidden = !bad.length;
    $("cal-flag").replaceChildren(bad.length ? el("span", {}, `⚠ ${bad.map(y => y.year + "年").join("、")}节假日日历未核对，整改期限可能不准确。`,
      el("a", { href: "/manage/calendar" }, bilingual("去核对日历", "/ Check the calendar"))) : "");
  } catch (e) { $("cal-flag").hidden = true; }
}

async function onLogout() {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* token may be gone already */ }
  sessionStorage.removeItem("hall_token");
  closeWs("hall"); closeWs("city");
  showLogin();
}

async function showApp() {
  $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
  const me = await api("/auth/me");
  const user = me.user || me.clerk || {};
  $("who").textContent = `${user.name || user.username || ""}（${me.role === "admin" ? "管理员" : "大厅管理"}）`;
  state.halls = await api("/dashboard/halls");
  renderTree();
  loadStations();
  loadCalendarFlag();
  clearInterval(state.stationsTimer);
  state.stationsTimer = setInterval(() => { if (!document.hidden) loadStations(); }, HEALTH_POLL_MS);
  const wanted = new URLSearchParams(location.search).get("hall") || (state.halls.length === 1 ? state.halls[0].id : null);
  if (wanted) openHall(wanted);
}

function renderTree() {
  const byParent = {};
  const ids = new Set(state.halls.map(h => h.id));
  for (const h of state.halls) {
    const p = h.parent_id && ids.has(h.parent_id) ? h.parent_id : "";
    (byParent[p] = byParent[p] || []).push(h);
  }
  const build = parent => (byParent[parent] || []).map(h =>
    // A real link (href: reachable by Tab, opens with Enter); the click stays in the page.
    el("li", {}, el("a", { href: "?hall=" + encodeURIComponent(h.id), "data-hall": h.id,
      onclick: ev => { ev.preventDefault(); openHall(h.id); } }, h.name),
      byParent[h.id] ? el("ul", {}, build(h.id)) : null));
  const root = $("tree-root"); root.replaceChildren(...build(""));
  markStationHalls();
}

// --- Stations (village / township servers that sync with this one, docs/sync.md) ---------------
// A station is "behind" when records wait and the oldest has waited this long; a push every few
// seconds normally leaves a handful waiting for a moment, which is no problem.
const STATION_BEHIND_LAG_S = 60;
const CONFLICT_ZH = { rewound: "数据回退", epoch_changed: "数据库更换" };

// The one problem of a station worth a badge, worst first; null when it is well.
function stationProblem(st) {
  if (st.revoked) return { code: "revoked", zh: "授权已撤销", en: "revoked", level: "error" };
  if (st.conflict) return { code: "conflict", zh: `数据冲突（${CONFLICT_ZH[st.conflict] || st.conflict}）`, en: "data conflict", level: "error" };
  if (st.silent) return st.last_contact_at
    ? { code: "silent", zh: "失联", en: "silent", level: "error" }
    : { code: "silent", zh: "从未同步", en: "never synced", level: "error" };
  if (st.waiting > 0 && (st.lag_s || 0) >= STATION_BEHIND_LAG_S) return { code: "behind", zh: "同步滞后", en: "behind", level: "warn" };
  return null;
}

// Nodes (the English part marked lang="en" for screen readers), not a string.
function ago(iso) {
  if (!iso) return bilingual("从未", "/ never");
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return bilingual("刚刚", "/ just now");
  if (s < 3600) return bilingual(`${Math.floor(s / 60)} 分钟前`, `/ ${Math.floor(s / 60)} min ago`);
  if (s < 48 * 3600) return bilingual(`${Math.floor(s / 3600)} 小时前`, `/ ${Math.floor(s / 3600)} h ago`);
  return bilingual(`${Math.floor(s / 86400)} 天前`, `/ ${Math.floor(s / 86400)} days ago`);
}

// The station's clock against this server's at its last push (the transfer time included, so
// a few seconds mean nothing). Records keep the station's times; the city's figures use its own.
const CLOCK_SKEW_WARN_S = 60;
function skewText(s) {
  if (s === null || s === undefined) return "—";
  if (Math.abs(s) < 5) return bilingual("准", "/ ok");
  const m = Math.round(Math.abs(s) / 60);
  const amount = Math.abs(s) < 60 ? `${Math.round(Math.abs(s))} 秒` : `${m} 分钟`;
  return s > 0 ? bilingual(`快 ${amount}`, "/ ahead") : bilingual(`慢 ${amount}`, "/ behind");
}

function lagText(s) {
  if (!s) return "—";
  if (s < 60) return `${Math.round(s)} 秒`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟`;
  return `${Math.floor(s / 3600)} 小时 ${Math.floor((s % 3600) / 60)} 分钟`;
}

async function loadStations() {
  let answer;
  try { answer = await api("/stations"); } catch (e) { return; }  // a server without stations' routes, or no right
  state.stations = answer.stations || [];
  renderStations(); markStationHalls(); showHallStation(); watchCityStream();
  loadConflicts();
}

// Bookings the city cancelled that a station checked in while its link was down (the city owns
// the capacity; the station honoured what it knew): listed for the manager to settle.
async function loadConflicts() {
  let answer;
  try { answer = await api("/stations/conflicts"); } catch (e) { return; }
  const list = answer.conflicts || [];
  $("conflicts-box").hidden = !list.length;
  if (!list.length) return;
  $("conflicts").replaceChildren(
    el("tr", {}, ...[["大厅", "Hall"], ["日期", "Day"], ["群众", "Visitor"], ["取消于", "Cancelled"],
      ["站点签到", "Checked in"], ["站点号票", "Ticket"]].map(([zh, en]) => el("th", {}, zh, el("span", { class: "muted", lang: "en" }, " " + en)))),
    ...list.map(c => el("tr", { "data-appointment": String(c.appointment_id) },
      el("td", {}, hallName(c.hall_id)), el("td", {}, `${c.day} ${hhmm(c.start_at)}`),
      el("td", {}, `${c.name_masked || ""} ${c.id_masked}`), el("td", {}, hhmm(c.cancelled_at)),
      el("td", {}, hhmm(c.checked_in_at)), el("td", { class: "ticket" }, c.ticket_number || "—"))));
}

function hallName(id) { const h = state.halls.find(x => x.id === id); return h ? h.name : id; }

// A station as a manager knows it: its name, else the names of the halls it runs (never its id).
function stationName(st) { return st.name || st.halls.map(hallName).join("、"); }

// The hall's place in the tree by names (市 › 县 › 乡), under its title instead of its id.
function hallPath(id) {
  const names = [];
  for (let h = state.halls.find(x => x.id === id), n = 0; h && n < 10; h = state.halls.find(x => x.id === h.parent_id), n++) names.unshift(h.name);
  return names.join(" › ");
}

// "2026-12-07" -> "12月7日".
function monthDay(iso) {
  const m = /^\d{4}-(\d{2})-(\d{2})/.exec(iso || "");
  return m ? `${Number(m[1])}月${Number(m[2])}日` : (iso || "");
}

// A follow-up case as a manager knows it: the hall, the ticket's number and the day it was opened.
function caseLabel(c) {
  return [c.hall_name || hallName(c.hall_id), c.ticket_number, monthDay(c.opened_on)].filter(Boolean).join(" · ");
}

function renderStations() {
  const list = state.stations;
  $("stations-card").hidden = !list.length;
  if (!list.length) return;
  $("stations").replaceChildren(
    el("tr", {}, ...[["站点", "Station"], ["大厅", "Halls"], ["最后联系", "Last contact"], ["待上传记录", "Waiting"],
      ["滞后", "Lag"], ["配置版本", "Config"], ["时钟偏差", "Clock skew"], ["状态", "State"]].map(([zh, en]) => el("th", {}, zh, el("span", { class: "muted", lang: "en" }, " " + en)))),
    ...list.map(st => {
      const p = stationProblem(st);
      return el("tr", { "data-station": st.id, class: p ? p.level : "" },
        el("td", {}, stationName(st)),
        el("td", {}, st.halls.map(hallName).join("、")),
        el("td", { class: "last-contact", title: st.last_contact_at || "" }, ago(st.last_contact_at)),
        el("td", { class: "waiting" }, String(st.waiting)),
        el("td", { class: "lag" }, lagText(st.lag_s)),
        el("td", { title: st.config_version || "" }, st.config_version ? st.config_version.slice(0, 10) : "—"),
        el("td", { class: "clock-skew" + (Math.abs(st.clock_skew_s || 0) >= CLOCK_SKEW_WARN_S ? " warn" : "") }, skewText(st.clock_skew_s)),
        el("td", { class: "station-state" }, p ? bilingual(p.zh, "/ " + p.en) : bilingual("正常", "/ ok")));
    }));
  $("stations-note").replaceChildren(...bilingual(`失联：超过告警时限未与本平台联系；同步滞后：有记录等待上传，且最早一条已等待 ${STATION_BEHIND_LAG_S} 秒以上。`,
    `/ Silent: no contact past the alert limit; behind: records waiting, the oldest for ${STATION_BEHIND_LAG_S} s or more.`));
}

// A badge after the name of each hall whose station has a problem (text, not colour alone).
function markStationHalls() {
  const byHall = {};
  for (const st of state.stations) for (const h of st.halls) byHall[h] = st;
  document.querySelectorAll("#tree a[data-hall]").forEach(a => {
    a.querySelectorAll(".station-badge").forEach(b => b.remove());
    const st = byHall[a.dataset.hall];
    const p = st && stationProblem(st);
    if (p) a.append(" ", el("span", { class: "station-badge " + p.level, "data-problem": p.code,
      title: `站点 ${stationName(st)}：${p.zh} / station ${stationName(st)}: ${p.en}` }, p.zh));
  });
}

// The open hall's station, under its title.
function showHallStation() {
  const box = $("hall-station");
  const st = state.stations.find(x => x.halls.includes(state.hall));
  box.hidden = !st;
  if (!st) return;
  const p = stationProblem(st);
  box.className = p ? p.level : "muted";
  box.replaceChildren(`本厅由站点 ${stationName(st)} 办理并同步 · 最后联系 `, ...ago(st.last_contact_at),
    ` · 待上传 ${st.waiting} 条` + (p ? ` · ${p.zh}` : ""));
}

async function openHall(hallId) {
  state.hall = hallId; state.lastSeq = 0; state.cityLastSeq = 0; closeWs("city");
  document.querySelectorAll("#tree a").forEach(a => {
    a.classList.toggle("active", a.dataset.hall === hallId);
    if (a.dataset.hall === hallId) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  $("hall-empty").hidden = true; $("hall-view").hidden = false;
  $("feed").replaceChildren(); closeGroupsForm(); closeCase(); $("followups-msg").textContent = ""; $("groups-saved").textContent = "";
  history.replaceState(null, "", "?hall=" + encodeURIComponent(hallId));
  showHallStation();
  await refreshLive();
  connectWs(); watchCityStream();
  clearInterval(state.healthTimer);
  state.healthTimer = setInterval(() => { if (!document.hidden) refreshHealth().catch(() => {}); }, HEALTH_POLL_MS);
  loadStats(); loadFollowups(); loadPriorityRemovals();
}

async function refreshLive() {
  const hallId = state.hall;
  const [snap, devices, alerts] = await Promise.all([
    api(`/halls/${hallId}/snapshot`), api(`/halls/${hallId}/device-health`).catch(() => []), api(`/halls/${hallId}/alerts`).catch(() => []),
  ]);
  if (hallId !== state.hall) return;
  state.snapshot = snap;
  if (!state.lastSeq) state.lastSeq = snap.last_seq || 0;
  const hall = snap.hall || {};
  $("hall-title").textContent = hall.name || hallId;
  $("hall-meta").textContent = hallPath(hallId);
  // recent_calls are call events; the newest (highest seq) is the one shown.
  const last = (snap.recent_calls || []).reduce((a, b) => (!a || (b.seq || 0) > (a.seq || 0) ? b : a), null);
  if (last && !$("last-call").dataset.fromWs) $("last-call").textContent = callText(last);
  renderGroups(snap.groups || []); renderWindows(snap.windows || []); renderDevices(devices); renderAlerts(alerts);
  loadAudit(hallId);
}

// The periodic audit-chain verification of this hall's log and its audit stream (GET /audit/status).
async function loadAudit(hallId) {
  let status;
  try { status = await api("/audit/status"); } catch (e) { return; }
  if (hallId !== state.hall) return;
  const mine = (status.chains || []).filter(c => c.hall_id === hallId || c.hall_id === "audit:" + hallId);
  if (!mine.length) { $("audit-state").replaceChildren(el("span", { class: "muted" }, bilingual("尚未校验", "/ not verified yet"))); return; }
  // The broken record's seq is for the technician (its tooltip and `hall-server audit verify`), not the screen.
  $("audit-state").replaceChildren(...mine.map(c => el("div", { class: c.ok ? "ok" : "alert error", "data-chain": c.hall_id,
    title: c.ok ? "" : `seq ${c.broken_seq}` },
    c.ok ? bilingual("✔ 完整", "/ intact")
      : [`✘ 断裂：${c.problem || ""}（请技术人员用 `, el("code", { lang: "en" }, "hall-server audit verify"), " 核查）",
        el("span", { lang: "en" }, " / broken, run hall-server audit verify")],
    el("span", { class: "muted" }, "  ", ...(c.hall_id.startsWith("audit:") ? bilingual("安全审计", "/ security acts") : bilingual("业务事件", "/ events")),
      ` · ${hhmm(c.checked_at)}`))));
}

async function refreshHealth() {
  const hallId = state.hall;
  const [devices, alerts] = await Promise.all([api(`/halls/${hallId}/device-health`), api(`/halls/${hallId}/alerts`)]);
  if (hallId !== state.hall) return;
  renderDevices(devices); renderAlerts(alerts);
  loadAudit(hallId);  // the chain's state changes without an event of the hall: read it with the rest
}

function callText(c) {
  if (!c) return "—";
  if (c.payload) c = c.payload;
  if (c.text) return c.text;
  const t = c.ticket || c; const w = c.window || {};
  return `请${t.number}号到${w.number || t.window_number}号窗口办理`;
}

function renderGroups(groups) {
  $("groups").replaceChildren(el("tr", {}, el("th", {}, "队列"), el("th", {}, "名称"), el("th", {}, "等候人数"), el("th", {}, "预计等候")),
    ...groups.map(g => el("tr", { "data-group": g.prefix }, el("td", {}, g.prefix), el("td", {}, g.name || ""),
      el("td", { class: "waiting" }, String(g.waiting)), el("td", {}, g.estimated_wait_minutes == null ? "—" : g.estimated_wait_minutes + " 分钟"))));
}

function renderWindows(windows) {
  const rows = windows.map(w => {
    const groups = w.groups || {};
    const gtext = Array.isArray(groups) ? groups.map(g => `${g.prefix}×${g.weight}`).join(" ") : Object.entries(groups).map(([p, wt]) => `${p}×${wt}`).join(" ");
    const cur = w.current ? (w.current.number || "") : "—";
    const clerk = w.clerk ? (w.clerk.name || w.clerk.username || "") : "—";
    return el("tr", { "data-window": w.id },
      el("td", {}, `${w.number}号`), el("td", {}, w.name || ""), el("td", {}, clerk),
      el("td", { class: "status-" + w.status }, STATUS_ZH[w.status] || w.status), el("td", { class: "current" }, cur),
      el("td", {}, gtext),
      el("td", {},
        el("button", { onclick: () => windowOp(w.id, "open"), disabled: w.status === "open" }, "开放"),
        el("button", { onclick: () => windowOp(w.id, "pause"), disabled: w.status !== "open" }, "暂停"),
        el("button", { onclick: () => windowOp(w.id, "close"), disabled: w.status === "closed" }, "关闭"),
        el("button", { class: "edit-groups", onclick: () => editGroups(w) }, "分配队列")));
  });
  $("windows").replaceChildren(el("tr", {}, ...["窗口", "名称", "工作人员", "状态", "当前号", "队列×权重", "操作"].map(h => el("th", {}, h))), ...rows);
}

async function windowOp(id, op) {
  $("win-msg").textContent = "";
  try { await api(`/windows/${id}/${op}`, { method: "POST" }); await refreshLive(); } catch (e) { $("win-msg").replaceChildren(...errorNodes(e)); }
}

// The window's queues and weights are edited in a small form under the table (no browser prompt).
const MAX_WEIGHT = 99;

function weightsOf(w) {
  const groups = w.groups || {};
  if (Array.isArray(groups)) return Object.fromEntries(groups.map(g => [g.prefix, g.weight]));
  return Object.assign({}, groups);
}

function editGroups(w) {
  const form = $("groups-form");
  const current = weightsOf(w);
  $("groups-saved").textContent = "";
  const hallGroups = (state.snapshot && state.snapshot.groups) || [];
  // Groups the window serves that the hall no longer lists still show, so nothing is dropped unseen.
  const prefixes = [...new Set([...hallGroups.map(g => g.prefix), ...Object.keys(current)])];
  const names = Object.fromEntries(hallGroups.map(g => [g.prefix, g.name || ""]));
  form.dataset.window = String(w.id);
  $("groups-form-title").replaceChildren(`分配队列：${w.number}号窗口 `, el("span", { class: "muted", lang: "en" }, `Queues and weights of window ${w.number}`));
  $("groups-form-rows").replaceChildren(
    el("tr", {}, ...["办理", "队列", "名称", "权重"].map(h => el("th", {}, h))),
    ...prefixes.map(p => el("tr", { "data-group": p },
      el("td", {}, el("input", { type: "checkbox", class: "serve", checked: p in current, "aria-label": `办理${p}队列` })),
      el("td", {}, p), el("td", {}, names[p] || ""),
      el("td", {}, el("input", { type: "number", class: "weight", min: "1", max: String(MAX_WEIGHT), step: "1",
        value: String(current[p] || 1), "aria-label": `${p}队列权重` })))));
  $("groups-form-msg").textContent = "";
  form.hidden = false;
  form.querySelector("input.serve").focus();
}

function closeGroupsForm() { $("groups-form").hidden = true; $("groups-form-msg").textContent = ""; }

async function saveGroups(ev) {
  ev.preventDefault();
  const form = $("groups-form");
  const groups = {};
  for (const row of form.querySelectorAll("#groups-form-rows tr[data-group]")) {
    if (!row.querySelector("input.serve").checked) continue;
    const raw = row.querySelector("input.weight").value.trim();
    const weight = Number(raw);
    if (!/^\d+$/.test(raw) || weight < 1 || weight > MAX_WEIGHT) {
      $("groups-form-msg").replaceChildren(...bilingual(`队列${row.dataset.group}的权重须为1–${MAX_WEIGHT}的整数`, `/ weight must be a whole number 1–${MAX_WEIGHT}`));
      return;
    }
    groups[row.dataset.group] = weight;
  }
  if (!Object.keys(groups).length) {
    $("groups-form-msg").replaceChildren(...bilingual("请至少选择一个队列（不办理时请暂停或关闭窗口）", "/ choose at least one queue"));
    return;
  }
  const save = $("groups-form-save");
  save.disabled = true;  // a double click sends one request
  try {
    await api(`/windows/${form.dataset.window}/groups`, { method: "PUT", body: { groups } });
    const title = $("groups-form-title").firstChild.textContent.replace("分配队列：", "").trim();
    closeGroupsForm();
    $("groups-saved").replaceChildren(...bilingual(`✓ 已保存：${title}的队列和权重`, "/ Saved"));
    await refreshLive();
  } catch (e) { $("groups-form-msg").replaceChildren(...errorNodes(e)); }
  finally { save.disabled = false; }
}

// A device's kind as the hall calls it (the heartbeat's kind is a code).
const DEVICE_KIND_ZH = { kiosk: "自助取号机", clerk_terminal: "窗口终端", display: "综合屏", rating: "评价器", village: "村站一体机" };

function renderDevices(devices) {
  $("devices").replaceChildren(el("tr", {}, ...["设备", "类型", "状态", "故障", "最后心跳"].map(h => el("th", {}, h))),
    ...devices.map(d => el("tr", { "data-device": d.device_id, class: d.ok ? "" : (d.warning && !d.stale ? "warn" : "error") },
      el("td", {}, d.device_id), el("td", {}, DEVICE_KIND_ZH[d.kind] || el("span", { lang: "en" }, d.kind)),
      el("td", { class: "device-state" }, d.stale ? "离线" : (d.ok ? "正常" : (d.warning ? "警告" : "故障"))),
      el("td", {}, (d.faults || []).map(f => f.message || f.code).join("；")), el("td", {}, hhmm(d.last_seen)))));
}

function renderAlerts(alerts) {
  announceStaffCalls(alerts);
  if (!alerts.length) { $("alerts").replaceChildren(el("span", { class: "muted" }, bilingual("无告警", "/ none"))); return; }
  $("alerts").replaceChildren(...alerts.map(a => a.code === "staff.call" ? staffCallAlert(a) :
    el("div", { class: "alert " + (a.level || ""), "data-code": a.code }, a.message, a.message_en ? el("span", { class: "muted", lang: "en" }, "  " + a.message_en) : null)));
}

// A staff call this page has not shown before (here or at a station below: it comes up with the
// station's records) flashes and sounds once, so a manager looking elsewhere notices it. The
// sound is two short tones made with the Web Audio API (no file to fetch); a browser that
// refuses to play before the page was touched still flashes.
const seenCalls = new Set();
let audio = null;
function announceStaffCalls(alerts) {
  const fresh = alerts.filter(a => a.code === "staff.call" && a.detail && !seenCalls.has(a.detail.call_id));
  if (!fresh.length) return;
  fresh.forEach(a => seenCalls.add(a.detail.call_id));
  state.newCalls = new Set(fresh.map(a => a.detail.call_id));
  chime();
}
function chime() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    [0, 0.25].forEach((at, i) => {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = i ? 660 : 880;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + 0.18);
    });
  } catch (e) { /* no sound on this machine: the alert still flashes */ }
}

// A visitor at a kiosk calls for staff: the kiosk's name, since when, and 已处理 for whoever goes.
// Acknowledging sends staff_call.acknowledged: every dashboard of the hall drops the alert, the
// kiosk stops saying 工作人员马上就到.
function staffCallAlert(a) {
  const d = a.detail || {};
  const msg = el("span", { class: "error", role: "alert" });
  const done = el("button", { class: "primary", type: "button", "data-call": d.call_id }, bilingual("已处理", "/ Handled"));
  done.addEventListener("click", async () => {
    done.disabled = true;
    try {
      await api(`/staff-calls/${encodeURIComponent(d.call_id)}/acknowledge`, { method: "POST" });
      refreshLive().catch(() => {});
    } catch (e) {
      done.disabled = false;
      msg.textContent = (e && e.message) || "操作失败，请重试";
    }
  });
  const fresh = state.newCalls && state.newCalls.has(d.call_id);
  // A station's call is answered by the station's own floor staff (the city cannot go there).
  const action = d.at_station ? el("span", { class: "muted at-station" }, bilingual("由站点工作人员处理", "/ answered at the station")) : done;
  return el("div", { class: "alert critical staff-call" + (fresh ? " ringing" : ""), "data-code": a.code, "data-call": d.call_id },
    el("strong", {}, a.message), " ", el("span", { class: "muted" }, `${hhmm(d.requested_at)} `),
    el("span", { class: "muted", lang: "en" }, a.message_en || ""), " ", action, " ", msg);
}

// The hall's event stream, and at a city the city's own stream about a station's hall
// ("<hall>@city": follow-up steps worked here, tokens made here; the station owns the hall's log).
// Each has its own seq; the city stream starts live (its history is in the hall's pages).
const STREAMS = {
  hall: { ws: "ws", seq: "lastSeq", suffix: "" },
  city: { ws: "cityWs", seq: "cityLastSeq", suffix: "@city" },
};

function closeWs(kind) {
  const key = STREAMS[kind].ws;
  if (state[key]) { state[key].onclose = null; state[key].close(); state[key] = null; }
  if (kind === "city") delete $("live").dataset.cityStream;
}

// The token never goes into the socket's URL (URLs end up in access logs): a one-time ticket,
// fetched with the token in the header, opens the socket and is worthless a moment later.
async function connectWs(kind = "hall") {
  const s = STREAMS[kind];
  closeWs(kind);
  const hallId = state.hall;
  const stream = hallId + s.suffix;
  const retry = () => {
    $("live").replaceChildren(...bilingual("● 重连中", "/ reconnecting"));
    if (hallId !== state.hall || !authToken()) return;
    const delay = Math.min(10000, 500 * 2 ** state.wsRetry++);
    setTimeout(() => { if (hallId === state.hall) connectWs(kind); }, delay);
  };
  let ticket;
  try {
    ticket = (await api(`/halls/${encodeURIComponent(stream)}/events/ticket`, { method: "POST" })).ticket;
  } catch (e) {
    if (e.status !== 401) retry();
    return;
  }
  if (hallId !== state.hall) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const since = kind === "hall" || state[s.seq] ? `since=${state[s.seq]}&` : "";
  const url = `${proto}://${location.host}${API}/halls/${encodeURIComponent(stream)}/events/ws?${since}ticket=${encodeURIComponent(ticket)}`;
  const ws = new WebSocket(url);
  state[s.ws] = ws;
  ws.onopen = () => { state.wsRetry = 0; $("live").replaceChildren(...bilingual("● 实时", "/ live")); if (kind === "city") $("live").dataset.cityStream = "open"; };
  ws.onmessage = m => { let ev; try { ev = JSON.parse(m.data); } catch (e) { return; } onEvent(ev, kind); };
  ws.onclose = retry;
}

// The open hall is a station's (known once the station list came): also watch the city's stream.
function watchCityStream() {
  const isStation = state.stations.some(x => x.halls.includes(state.hall));
  if (isStation && !state.cityWs && state.hall) connectWs("city");
  if (!isStation) closeWs("city");
}

// A session ended by the server (idle, lifetime, revoked): back to the log-in form with the reason.
function onSessionEnded(ev) {
  closeWs("hall"); closeWs("city");
  showLogin();
  $("login-error").replaceChildren(...(ev.detail && ev.detail.message ? bilingual(ev.detail.message, ev.detail.message_en ? "/ " + ev.detail.message_en : "") : ["登录已过期，请重新登录"]));
}

function onEvent(ev, kind = "hall") {
  const seqKey = STREAMS[kind].seq;
  if (!ev || typeof ev.seq !== "number") return;
  if (ev.seq <= state[seqKey]) return;
  state[seqKey] = ev.seq;
  const p = ev.payload || {};
  if (ev.type === "ticket.called" || ev.type === "ticket.recalled") {
    $("last-call").textContent = callText(p); $("last-call").dataset.fromWs = "1";
  }
  const num = p.ticket ? p.ticket.number : (p.number || "");
  const feed = $("feed");
  feed.insertBefore(el("li", { "data-type": ev.type }, `${hhmm(ev.at)} ${EVENT_ZH[ev.type] || ev.type} ${num} ${p.text || ""}`), feed.firstChild);
  while (feed.children.length > 30) feed.removeChild(feed.lastChild);
  if (ev.type === "rating.recorded" || ev.type.startsWith("followup.")) setTimeout(loadFollowups, 500);
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshLive().catch(() => {}), 300);
}

// Empty dates mean the hall's business day today (the server decides, in the hall's time zone).
function period() {
  const q = [];
  if ($("from").value) q.push(`from=${$("from").value}`);
  if ($("to").value) q.push(`to=${$("to").value}`);
  return q.join("&");
}

async function loadStats() {
  const hallId = state.hall;
  try {
    const s = await api(`/halls/${hallId}/stats?${period()}`);
    if (!$("from").value) $("from").value = s.from;
    if (!$("to").value) $("to").value = s.to;
    const t = s.totals;
    $("stats-summary").replaceChildren(el("p", {},
      `取号 ${t.issued} · 办结 ${t.served} · 过号 ${t.no_show} · 日终未办结 ${t.unserved} · 转移 ${t.transferred} · 平均等候 ${mins(t.wait.average)} · 90%等候 ${mins(t.wait.p90)} · 超时占比 ${pct(t.wait.above_target_share)} · 预约到场 ${t.appointments_kept} / 爽约 ${t.appointments_missed}`));
    $("chart-hour").replaceChildren(barChart(s.per_hour.map(h => ({ label: String(h.hour), value: h.issued })), { title: "每小时取号" }));
    $("chart-wait").replaceChildren(barChart(s.wait_histogram.map(b => ({ label: b.label, value: b.count, color: "#b26a00" })), { title: "等候时长分布" }));
    $("chart-rating").replaceChildren(barChart(s.ratings.levels.map(l => ({ label: l.name, value: l.count, color: l.level <= 2 ? "#c62828" : "#2e7d32" })), { title: "评价" }));
    const ind = s.ratings.indicators;
    $("indicators").replaceChildren(el("table", {},
      el("tr", {}, ...["好评率", "主动评价好评率", "未评率", "差评回复率", "回访整改率", "回访整改满意率", "最多跑一次"].map(h => el("th", {}, h))),
      el("tr", {}, ...[ind.good_rate, ind.unprompted_good_rate, ind.unrated_rate, ind.bad_reply_rate, ind.revisit_fix_rate, ind.revisit_satisfaction_rate, s.visits.at_most_once_rate].map(v => el("td", {}, pct(v))))));
  } catch (e) { $("stats-summary").replaceChildren(el("p", { class: "error" }, errorNodes(e))); }
}

// Follow-up cases of bad ratings: the list, and one step at a time in an in-page dialog.
// The steps run in one line (open -> verified -> answered -> fixed -> revisited -> closed), so the
// dialog offers exactly the next one; the server still checks order and scope.
const NEXT_STEP = {
  open: { step: "verified", zh: "核实", en: "Verify" },
  verified: { step: "answered", zh: "回复", en: "Answer" },
  answered: { step: "fixed", zh: "整改", en: "Fix" },
  fixed: { step: "revisited", zh: "回访", en: "Return visit" },
  revisited: { step: "closed", zh: "办结", en: "Close" },
};
const caseForm = { case: null, busy: false, opener: null };
const STEP_ORDER = ["open", "verified", "answered", "fixed", "revisited", "closed"];
// Steps only move forward: a list read that left before a step was recorded must not undo it on screen.
const caseSeen = { hall: null, cases: {}, listSeq: 0 };

function newest(c) {
  if (caseSeen.hall !== state.hall) { caseSeen.hall = state.hall; caseSeen.cases = {}; }
  const prev = caseSeen.cases[c.id];
  if (prev && STEP_ORDER.indexOf(prev.step) > STEP_ORDER.indexOf(c.step)) return prev;
  caseSeen.cases[c.id] = c;
  return c;
}

function daysLeftText(c) {
  if (c.step === "closed") return "";
  const n = c.working_days_left;
  if (c.overdue) return typeof n === "number" && n < 0 ? `已超期${-n}个工作日` : "已超期";
  if (typeof n !== "number") return "";
  return n === 0 ? "今日到期" : `剩${n}个工作日`;
}

function satisfiedText(c) {
  if (c.revisit_satisfied === true) return "（回访满意）";
  if (c.revisit_satisfied === false) return "（回访不满意）";
  return "";
}

function caseRow(c) {
  const next = NEXT_STEP[c.step];
  const left = daysLeftText(c);
  const action = next
    ? el("button", { class: "next-step", onclick: ev => openCase(c, ev.currentTarget), "aria-label": `工单 ${caseLabel(c)}：${next.zh}` }, next.zh)
    : el("button", { class: "view-case", onclick: ev => openCase(c, ev.currentTarget), "aria-label": `查看工单 ${caseLabel(c)}` }, "查看");
  return el("tr", { class: c.overdue ? "error" : "", "data-case": c.id },
    el("td", { class: "case-label" }, caseLabel(c)), el("td", {}, c.level_zh || String(c.level)),
    el("td", {}, c.window_number ? c.window_number + "号" : "—"), el("td", {}, c.clerk_name || "—"),
    el("td", {}, c.service_name || c.service_code || ""),
    el("td", { class: "deadline" }, c.deadline, left ? el("span", { class: "days-left" }, left) : null),
    el("td", { class: "step" }, (c.step_zh || c.step) + satisfiedText(c)), el("td", {}, action));
}

// 绿色通道核查: the self-declared priorities clerks removed today, with their reasons (names, not ids).
async function loadPriorityRemovals() {
  const hallId = state.hall;
  try {
    const rows = await api(`/halls/${hallId}/priority-removals`);
    if (hallId !== state.hall) return;
    $("removals").replaceChildren(el("tr", {}, ...["时间", "大厅", "号码", "事项", "原申报", "取消原因", "窗口", "工作人员"].map(h => el("th", {}, h))),
      ...rows.map(r => el("tr", {}, el("td", {}, hhmm(r.at)), el("td", {}, r.hall_name), el("td", {}, r.number || ""), el("td", {}, r.service_name || ""),
        el("td", {}, r.green_reason_zh), el("td", {}, r.reason), el("td", {}, r.window_name || "—"), el("td", {}, r.by))));
    if (!rows.length) $("removals").appendChild(el("tr", {}, el("td", { colspan: "8", class: "muted" }, bilingual("今日无", "/ none today"))));
  } catch (e) {
    if (hallId === state.hall) $("removals").replaceChildren(el("tr", {}, el("td", { class: "error" }, errorNodes(e))));
  }
}

async function loadFollowups() {
  const hallId = state.hall;
  const seq = ++caseSeen.listSeq;
  try {
    const cases = (await api(`/halls/${hallId}/followups`)).map(newest);
    if (hallId !== state.hall || seq !== caseSeen.listSeq) return;  // a newer read is on its way
    const focusId = focusedCaseId();
    $("followups").replaceChildren(el("tr", {}, ...["编号", "评价", "窗口", "工作人员", "事项", "期限", "状态", "处理"].map(h => el("th", {}, h))),
      ...cases.map(caseRow));
    if (!cases.length) $("followups").appendChild(el("tr", {}, el("td", { colspan: "8", class: "muted" }, bilingual("暂无差评工单", "/ no cases"))));
    refocusCase(focusId);
  } catch (e) {
    if (hallId === state.hall && seq === caseSeen.listSeq) $("followups").replaceChildren(el("tr", {}, el("td", { class: "error" }, errorNodes(e))));
  }
}

// Live updates redraw rows: a keyboard user's focus stays on the same case's button.
function focusedCaseId() {
  const row = document.activeElement && document.activeElement.closest && document.activeElement.closest("#followups tr[data-case]");
  return row ? row.dataset.case : null;
}

function refocusCase(id) {
  if (!id || $("case-dialog").open) return;
  const button = document.querySelector(`#followups tr[data-case="${id}"] button`);
  if (button) button.focus();
}

// Put one case's fresh row in place (after a step) without waiting for the list to reload.
function replaceCaseRow(c) {
  const row = document.querySelector(`#followups tr[data-case="${c.id}"]`);
  if (!row) return;
  const focusId = focusedCaseId();
  row.replaceWith(caseRow(newest(c)));
  refocusCase(focusId);
}

function fact(label, en, ...value) {
  return [el("dt", {}, label, el("span", { class: "muted", lang: "en" }, " " + en)), el("dd", {}, ...value)];
}

function renderCase(c, steps) {
  caseForm.case = c;
  const next = NEXT_STEP[c.step];
  $("case-title").replaceChildren(`差评工单 ${caseLabel(c)} `, el("span", { class: "muted", lang: "en" }, "Follow-up case"));
  const left = daysLeftText(c);
  $("case-facts").replaceChildren(
    ...fact("窗口", "Window", c.window_number ? `${c.window_number}号窗口` : "—", c.window_name ? ` ${c.window_name}` : ""),
    ...fact("工作人员", "Clerk", c.clerk_name || "—"),
    ...fact("事项", "Service", c.service_name || c.service_code || "—"),
    ...fact("评价", "Rating", el("span", { class: "level" }, `${c.level_zh || ""}（${c.level}）`)),
    ...fact("原因", "Reasons", (c.reasons_zh || c.reasons || []).join("、") || "—"),
    ...fact("评价内容", "Text", el("span", { class: "rating-text" }, c.text || "（无 / none）")),
    ...fact("期限", "Deadline", c.deadline, left ? el("span", { class: c.overdue ? "days-left error" : "days-left" }, " " + left) : ""),
    ...fact("状态", "Status", el("span", { class: "case-step" }, (c.step_zh || c.step) + satisfiedText(c))));
  if (steps) {
    $("case-history").replaceChildren(...steps.map(s => el("li", { "data-step": s.step },
      `${hhmm(s.at)} ${s.step_zh || s.step} · ${s.by || ""}`, s.note ? el("div", { class: "muted" }, s.note) : null)));
  }
  $("case-history-box").open = !next;  // a closed case is read for its record
  $("case-step-part").hidden = !next;
  $("case-submit").hidden = !next;
  $("case-cancel").replaceChildren(...(next ? bilingual("取消", "/ Cancel") : bilingual("关闭", "/ Close")));
  if (!next) return;
  $("case-next").replaceChildren(...bilingual(next.zh, "/ " + next.en));
  $("case-submit").replaceChildren(...bilingual(`提交${next.zh}`, "/ Submit"));
  const revisit = next.step === "revisited";
  $("case-satisfied").hidden = !revisit;
  if (!revisit) $("case-form").querySelectorAll("input[name=satisfied]").forEach(r => { r.checked = false; });
}

async function openCase(c, opener) {
  const dialog = $("case-dialog");
  caseForm.opener = opener || null;
  caseForm.busy = false;
  $("case-submit").disabled = false;
  $("case-msg").textContent = "";
  $("case-note").value = "";
  $("case-note").removeAttribute("aria-invalid");
  $("case-form").querySelectorAll("input[name=satisfied]").forEach(r => { r.checked = false; });
  $("case-history").replaceChildren(el("li", { class: "muted" }, bilingual("加载中…", "/ loading")));
  renderCase(newest(c), null);
  if (!dialog.open) dialog.showModal();
  (NEXT_STEP[caseForm.case.step] ? $("case-note") : $("case-cancel")).focus();
  await refreshCase(c.id);
}

// Read the case again (its recorded steps; or its new state after a refusal), keeping what was typed.
async function refreshCase(id) {
  try {
    const fresh = await api(`/followups/${id}`);
    if (!caseForm.case || caseForm.case.id !== id || !$("case-dialog").open) return;
    const wasStep = caseForm.case.step;
    renderCase(fresh, fresh.steps || []);
    replaceCaseRow(fresh);
    if (fresh.step !== wasStep) $("case-msg").append(el("div", {}, bilingual(`该工单现为“${fresh.step_zh}”`, `/ the case is now ${fresh.step}`)));
  } catch (e) {
    if (caseForm.case && caseForm.case.id === id) $("case-msg").replaceChildren(...errorNodes(e));
  }
}

function closeCase() {
  const dialog = $("case-dialog");
  if (dialog.open) dialog.close();
}

function onCaseClosed() {
  const id = caseForm.case && caseForm.case.id;
  caseForm.case = null;
  $("case-msg").textContent = "";
  // The list may have been redrawn meanwhile: give focus back to the case's row, not a detached button.
  const target = (caseForm.opener && caseForm.opener.isConnected && caseForm.opener)
    || document.querySelector(`#followups tr[data-case="${id}"] button`);
  if (target) target.focus();
}

function clearCaseMsg() {
  $("case-msg").textContent = "";
  delete $("case-msg").dataset.kind;
}

async function submitCase(ev) {
  ev.preventDefault();
  const c = caseForm.case;
  if (!c || caseForm.busy) return;  // a double click or a second Enter sends nothing more
  const next = NEXT_STEP[c.step];
  if (!next) return;
  const msg = $("case-msg");
  clearCaseMsg();
  const note = $("case-note").value.trim();
  if (!note) {
    msg.replaceChildren(...bilingual(`请填写${next.zh}说明`, "/ a note is required"));
    msg.dataset.kind = "note";
    $("case-note").setAttribute("aria-invalid", "true");
    $("case-note").focus();
    return;
  }
  $("case-note").removeAttribute("aria-invalid");
  const body = { step: next.step, note };
  if (next.step === "revisited") {
    const chosen = $("case-form").querySelector("input[name=satisfied]:checked");
    if (!chosen) {
      msg.replaceChildren(...bilingual("请选择群众是否满意", "/ choose satisfied or not satisfied"));
      msg.dataset.kind = "choose";
      $("case-form").querySelector("input[name=satisfied]").focus();
      return;
    }
    body.satisfied = chosen.value === "yes";
  }
  caseForm.busy = true;
  $("case-submit").disabled = true;
  try {
    const done = await api(`/followups/${c.id}/steps`, { method: "POST", body });
    replaceCaseRow(done);
    listMessage(bilingual(`工单 ${caseLabel(done)} 已${next.zh}：${done.step_zh}${satisfiedText(done)}`, `/ case ${caseLabel(done)}: ${done.step}`), false);
    if (caseForm.case && caseForm.case.id === c.id) closeCase();
    loadFollowups(); loadStats();
  } catch (e) {
    const text = e.code ? errorNodes(e) : bilingual("无法连接服务器，请稍后重试", `/ cannot reach the server (${e.message})`);
    // Closed meanwhile (Esc while sending): the refusal goes under the list instead of into a hidden dialog.
    if (caseForm.case && caseForm.case.id === c.id) msg.replaceChildren(...text);
    else listMessage([`工单 ${caseLabel(c)}：`, ...text], true);
    // Out of order (someone else moved it) or gone: show where the case stands now.
    if (e.code === "followup.bad_step") await refreshCase(c.id);
    if (e.code === "followup.bad_step" || e.code === "followup.unknown") loadFollowups();
  } finally {
    caseForm.busy = false;
    $("case-submit").disabled = false;
  }
}

// `text`: a string or nodes (bilingual(...)).
function listMessage(text, isError) {
  const line = $("followups-msg");
  line.replaceChildren(...[text].flat());
  line.className = isError ? "error" : "ok";
}

function onCaseKey(ev) {
  // Enter submits from the note or the choice; Shift+Enter is a new line; an IME's Enter picks characters.
  if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
  if (ev.target.tagName === "BUTTON" || ev.target.tagName === "SUMMARY") return;
  ev.preventDefault();
  if (!$("case-submit").hidden) $("case-form").requestSubmit($("case-submit"));
}

async function download(kind) {
  const res = await fetch(`${API}/halls/${state.hall}/stats/export.${kind}?${period()}`, { headers: { Authorization: "Bearer " + authToken() } });
  if (!res.ok) { $("stats-summary").prepend(el("p", { class: "error" }, "导出失败 / export failed: " + res.status)); return; }
  const blob = await res.blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: `stats-${state.hall}-${$("from").value}-${$("to").value}.${kind}` });
  document.body.appendChild(a); a.click(); a.remove();
}

start();
