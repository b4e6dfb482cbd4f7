// The big screen: one hall's figures at a time, rotating through the caller's subtree (?hall= pins one).
"use strict";
const ROTATE_MS = 20000;
const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);
let order = [];
let index = 0;

function tick() { $("bs-clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false }); }

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
  $("bs-children").replaceChildren(...(d.children.length ? d.children.map((c) => el("div", { class: "tile " + (c.waiting > 20 ? "busy" : "calm") },
    el("div", { class: "name" }, c.name), `等候 ${c.waiting} 人 · 窗口 ${c.windows_open}/${c.windows} · 最长 ${c.longest_wait_minutes} 分钟`))
    : [el("div", { class: "tile calm" }, "本大厅没有下级大厅 / no halls below")]));
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
