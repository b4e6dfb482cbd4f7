// 排班与窗口: the day's roster of a hall, the windows' zones, and who sits at which window now (with hand-over).
"use strict";
let windows = [];
let loads = 0; // the latest loadRoster: an earlier one that answers late must not overwrite it

async function loadRoster(hallId) {
  const mine = ++loads;
  const [clerks, snap] = await Promise.all([api("/staff"), api("/halls/" + encodeURIComponent(hallId) + "/snapshot")]);
  if (mine !== loads) return;
  windows = snap.windows.slice().sort((a, b) => a.number - b.number);
  const staff = clerks.filter((s) => s.hall_id === hallId && s.role === "clerk" && s.active);
  refill($("r-clerk"), staff.map((s) => el("option", { value: s.id }, s.name + "（" + s.username + "）")));
  refill($("r-window"), windows.map((w) => el("option", { value: w.id }, windowName(w))));
  $("r-save").disabled = !staff.length || !windows.length;
  renderZones();
  await Promise.all([loadLines(hallId), Promise.resolve(renderSitting(hallId))]);
}

// New options without losing what the manager already picked: a reload that ends after the pick
// (the same hall chosen again) once put the roster line on the list's first clerk instead.
function refill(select, options) {
  const picked = select.value;
  select.replaceChildren(...options);
  if (options.some((o) => o.value === picked)) select.value = picked;
}

function windowName(w) { return w.number + "号窗口" + (w.name && w.name !== w.number + "号窗口" ? " " + w.name : ""); }

async function loadLines(hallId) {
  const lines = await api("/halls/" + encodeURIComponent(hallId) + "/roster?day=" + $("day").value);
  const head = el("tr", {}, el("th", {}, "窗口"), el("th", {}, "窗口人员"), el("th", {}, "时段"), el("th", {}, "操作"));
  const rows = lines.map((l) => el("tr", {},
    el("td", {}, l.window), el("td", {}, l.clerk), el("td", {}, l.starts + "–" + l.ends),
    el("td", {}, el("button", { type: "button", onclick: () => removeLine(l) }, "删除"))));
  $("roster").replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "当日无排班 / no roster for this day")) ]));
}

function renderSitting(hallId) {
  const head = el("tr", {}, el("th", {}, "窗口"), el("th", {}, "当前人员"), el("th", {}, "操作"));
  const rows = windows.map((w) => el("tr", {},
    el("td", {}, Manage.hallName(hallId) + " · " + windowName(w)),
    el("td", {}, w.clerk ? (w.clerk.name || "—") : el("span", { class: "muted" }, "无人登录")),
    el("td", {}, w.clerk ? el("button", { type: "button", onclick: () => handOver(w) }, "交接窗口") : "")));
  $("sitting").replaceChildren(head, ...rows);
}

// Each window's zone in a text box of its own row, saved by the row's button (audited at the server).
function renderZones() {
  const head = el("tr", {}, el("th", {}, "窗口"), el("th", {}, "分区"), el("th", {}, "操作"));
  const rows = windows.map((w) => {
    const input = el("input", { type: "text", maxlength: 8, value: w.zone || "", id: "zone-" + w.number,
      "aria-label": windowName(w) + " 分区 / zone", placeholder: "如 B区" });
    return el("tr", { "data-window": w.number }, el("td", {}, windowName(w)), el("td", {}, input),
      el("td", {}, el("button", { type: "button", onclick: () => saveZone(w, input.value) }, "保存分区")));
  });
  $("zones").replaceChildren(head, ...rows);
}

async function saveZone(w, value) {
  try {
    const saved = await api("/windows/" + w.id + "/zone", { method: "PUT", body: { zone: value.trim() || null } });
    w.zone = saved.zone;
    flash(saved.zone ? "已保存分区：" + windowName(w) + " · " + saved.zone : "已取消分区：" + windowName(w));
  } catch (e) { flash("未保存分区：" + e.message, true); }
}

async function saveLine(ev) {
  ev.preventDefault();
  const hallId = $("hall").value;
  const body = { day: $("day").value, user_id: Number($("r-clerk").value), window_id: Number($("r-window").value), starts: $("r-starts").value, ends: $("r-ends").value };
  try {
    const l = await api("/halls/" + encodeURIComponent(hallId) + "/roster", { method: "POST", body });
    flash("已保存排班：" + l.clerk + " · " + l.window + " · " + l.day + " " + l.starts + "–" + l.ends);
    await loadLines(hallId);
  } catch (e) { flash("未保存：" + e.message, true); }
}

async function removeLine(l) {
  try {
    await api("/roster/" + l.id, { method: "DELETE" });
    flash("已删除排班：" + l.clerk + " · " + l.window + " " + l.starts + "–" + l.ends);
    await loadLines($("hall").value);
  } catch (e) { flash("未删除：" + e.message, true); }
}

async function handOver(w) {
  try {
    const r = await api("/windows/" + w.id + "/hand-over", { method: "POST", body: { reason: "管理人员交接" } });
    flash("已交接：" + r.window + "，" + (w.clerk ? w.clerk.name : "") + " 的登录已结束");
    await loadRoster($("hall").value);
  } catch (e) { flash("未交接：" + e.message, true); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("day").value = todayIso();
  $("day").addEventListener("change", () => loadLines($("hall").value).catch((e) => flash(e.message, true)));
  $("roster-form").addEventListener("submit", saveLine);
  managePage(loadRoster).catch((e) => flash(e.message, true));
});
