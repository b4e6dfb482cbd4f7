// The phone page of one ticket: polls /api/v1/track/{token} and shows place, wait and the call.
"use strict";
const TOKEN = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const STATUS = {
  waiting: ["等候中", "waiting"], called: ["请到窗口办理", "please go to the window"], serving: ["办理中", "being served"],
  suspended: ["已挂起，补齐材料后请联系窗口", "suspended"], finished: ["已办结，感谢您的耐心", "finished"],
  no_show: ["已过号，请重新取号", "missed, please take a new ticket"], cancelled: ["已取消", "cancelled"],
  expired: ["当日未办结，已随大厅下班关闭，请重新取号", "closed unserved at day end, please take a new ticket"],
};
const $ = id => document.getElementById(id);
let hallLoaded = false;
let lastStatus = null;

async function refresh() {
  try {
    const t = await api(`/track/${encodeURIComponent(TOKEN)}`, { noAuth: true });
    $("error").textContent = "";
    $("number").textContent = t.number;
    $("service").textContent = t.service_name || "";
    const [zh, en] = STATUS[t.status] || [t.status, ""];
    let line = zh;
    if ((t.status === "called" || t.status === "serving") && t.window_number) line = `请到${t.window_number}号窗口办理`;
    $("status-line").replaceChildren(document.createTextNode(line + " "), el("span", { class: "muted" }, en));
    $("ticket-card").classList.toggle("called", t.status === "called");
    $("ahead").textContent = t.status === "waiting" && t.people_ahead != null ? `${t.people_ahead} 人` : "—";
    $("wait").textContent = t.status === "waiting" && t.estimated_wait_minutes != null ? `约 ${t.estimated_wait_minutes} 分钟` : "—";
    $("issued").textContent = hhmm(t.issued_at);
    $("called").textContent = hhmm(t.called_at);
    $("updated").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN");
    if (t.status === "called" && lastStatus && lastStatus !== "called" && navigator.vibrate) navigator.vibrate([300, 100, 300]);
    lastStatus = t.status;
    if (!hallLoaded) {
      hallLoaded = true;
      api(`/halls/${encodeURIComponent(t.hall_id)}`, { noAuth: true }).then(h => { $("hall-name").textContent = h.name; }).catch(() => {});
    }
    return !["finished", "no_show", "cancelled", "expired"].includes(t.status);
  } catch (e) {
    $("error").textContent = e.status === 404 ? "未找到该号票 / ticket not found" : "网络异常，正在重试 / retrying: " + e.message;
    return e.status !== 404;
  }
}

async function loop() {
  const more = await refresh();
  if (more) setTimeout(loop, document.hidden ? 10000 : 3000);
}
loop();
