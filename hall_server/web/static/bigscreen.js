// The big screen: one hall's figures at a time, rotating through the caller's subtree (?hall= pins one).
"use strict";
const ROTATE_MS = 20000;
const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);
let order = [];
let index = 0;

function tick() { $("bs-clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false }); }

// The map: the subtree as a tree drawn left to right (市 → 县 → 乡镇 → 村), each hall coloured by
// its state (the server decides it) and saying it in words too, so colour is never the only sign.
const LEVEL_ZH = { city: "市", county: "县区", township: "乡镇", village: "村社区" };
const STATE_ZH = { calm: "正常", busy: "繁忙", alert: "告警" };

function mapNode(h) {
  const state = h.alerts ? `⚠ ${h.alerts} 条告警` : STATE_ZH[h.state];
  return el("div", { class: "node " + h.state, "data-state": h.state },
    el("div", { class: "name" }, h.name, el("span", { class: "level" }, LEVEL_ZH[h.level] || "")),
    el("div", { class: "line" }, `等候 ${h.waiting} 人 · 窗口 ${h.windows_open}/${h.windows}`),
    el("div", { class: "line state" }, h.longest_wait_minutes ? `${state} · 最长 ${h.longest_wait_minutes} 分钟` : state));
}

function drawMap(halls, total) {
  const byParent = {};
  for (const h of halls) (byParent[h.parent_id || ""] = byParent[h.parent_id || ""] || []).push(h);
  const build = (parent) => (byParent[parent] || []).map((h) => el("li", { "data-hall": h.id }, mapNode(h),
    byParent[h.id] ? el("ul", {}, ...build(h.id)) : null));
  $("bs-map").replaceChildren(...build(""));
  $("bs-map-more").textContent = total > halls.length ? `另有 ${total - halls.length} 个大厅未画出 / ${total - halls.length} more halls` : "";
}

async function show() {
  const hallId = order[index % order.length];
  const d = await api(`/halls/${encodeURIComponent(hallId)}/bigscreen`);
  $("bs-hall").textContent = d.hall.name;
  $("f-waiting").textContent = d.waiting;
  $("f-served").textContent = d.served_today;
  $("f-avg").textContent = d.wait_avg_minutes === null ? "—" : d.wait_avg_minutes;
  $("f-longest").textContent = d.longest_wait_minutes;
  $("f-longest").parentElement.classList.toggle("bad", d.longest_wait_minutes >= 30);
  $("f-windows").textContent = `${d.windows_open}/${d.windows}`;
  $("f-sat").textContent = d.satisfaction === null ? "—" : (d.satisfaction * 100).toFixed(1) + "%";
  $("f-sat-n").textContent = `${d.rated_today} 条评价 ratings today`;
  drawMap(d.map || [], d.map_total || 0);
  $("bs-alerts").replaceChildren(...(d.alerts.length ? d.alerts.map((a) => el("li", { class: a.level }, a.message))
    : [el("li", {}, "✓ 无告警 / no alerts")]));
  $("bs-rotation").textContent = order.length > 1 ? `${(index % order.length) + 1} / ${order.length}` : "";
}

async function start() {
  if (!authToken()) { $("need-login").hidden = false; return; }
  let halls;
  try { halls = await api("/dashboard/halls"); } catch (e) { $("need-login").hidden = false; return; }
  const pinned = new URLSearchParams(location.search).get("hall");
  // Rotate through the halls that have halls below them (the city, counties), then the rest.
  const parents = new Set(halls.map((h) => h.parent_id).filter(Boolean));
  order = pinned ? [pinned] : [...halls.filter((h) => parents.has(h.id)), ...halls.filter((h) => !parents.has(h.id))].map((h) => h.id);
  $("screen").hidden = false;
  tick(); setInterval(tick, 1000);
  await show();
  setInterval(() => { if (!document.hidden) show().catch(() => {}); }, REFRESH_MS);
  if (order.length > 1) setInterval(() => { index += 1; show().catch(() => {}); }, ROTATE_MS);
}
start();
