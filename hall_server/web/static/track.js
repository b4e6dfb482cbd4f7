// The phone page of one ticket: polls /api/v1/track/{token}; shows where to go, the call now, the wait; cancels.
"use strict";
const TOKEN = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const STATUS = {
  waiting: ["等候中", "waiting"], called: ["请到窗口办理", "please go to the window"], serving: ["办理中", "being served"],
  suspended: ["已挂起，补齐材料后请联系窗口", "suspended"], finished: ["已办结，感谢您的耐心", "finished"],
  no_show: ["已过号，请重新取号", "missed, please take a new ticket"], cancelled: ["已取消", "cancelled"],
  expired: ["当日未办结，已随大厅下班关闭，请重新取号", "closed unserved at day end, please take a new ticket"],
};
const OVER = ["finished", "no_show", "cancelled", "expired"];
const CANCELLABLE = ["waiting", "suspended"];
const $ = id => document.getElementById(id);
let hallLoaded = false;
let lastStatus = null;
let timer = null;

// Replace a live region's text only when it changes: a screen reader then speaks news, not every poll.
function say(id, zh, en) {
  const node = $(id);
  const text = zh + (en ? " " + en : "");
  if (node.dataset.said === text) return;
  node.dataset.said = text;
  node.replaceChildren(...bilingual(zh, en));
}

function show(t) {
  $("loading").hidden = true; $("not-found").hidden = true; $("ticket-card").hidden = false;
  $("error").textContent = "";
  $("number").textContent = t.number;
  $("service").textContent = t.service_name || "";
  const [zh, en] = STATUS[t.status] || [t.status, ""];
  const atWindow = (t.status === "called" || t.status === "serving") && t.go_to;
  if (atWindow) say("status-line", `请到${t.go_to}办理`, `please go to ${t.go_to_en}`);
  else say("status-line", zh, en);
  if (t.go_to && !atWindow) say("go-to", `办理窗口：${t.go_to}`, `served at ${t.go_to_en}`);
  else say("go-to", "", "");
  $("ticket-card").classList.toggle("called", t.status === "called");
  $("now-serving").textContent = t.now_serving || "—";
  $("ahead").textContent = t.status === "waiting" && t.people_ahead != null ? `${t.people_ahead} 人` : "—";
  $("wait").textContent = t.status === "waiting" && t.estimated_wait_minutes != null ? `约 ${t.estimated_wait_minutes} 分钟` : "—";
  $("issued").textContent = hhmm(t.issued_at);
  $("called").textContent = hhmm(t.called_at);
  $("updated").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN");
  const cancellable = CANCELLABLE.includes(t.status);
  $("cancel-ticket").hidden = !cancellable;
  if (!cancellable) $("cancel-confirm-box").hidden = true;
  if (t.status === "called" && lastStatus && lastStatus !== "called" && navigator.vibrate) navigator.vibrate([300, 100, 300]);
  lastStatus = t.status;
  if (!hallLoaded) {
    hallLoaded = true;
    api(`/halls/${encodeURIComponent(t.hall_id)}`, { noAuth: true }).then(h => { $("hall-name").textContent = h.name; }).catch(() => {});
  }
}

async function refresh() {
  try {
    const t = await api(`/track/${encodeURIComponent(TOKEN)}`, { noAuth: true });
    show(t);
    return !OVER.includes(t.status);
  } catch (e) {
    if (e.status === 404 || e.status === 422) {
      // An unknown link: only that, nothing that says it is still looking.
      $("loading").hidden = true; $("ticket-card").hidden = true; $("help").hidden = true; $("not-found").hidden = false;
      return false;
    }
    $("loading").hidden = true;
    $("error").replaceChildren(...bilingual("网络异常，正在重试", "/ retrying: " + e.message));
    if ($("ticket-card").hidden) { $("ticket-card").hidden = false; }
    return true;
  }
}

async function loop() {
  const more = await refresh();
  if (more) timer = setTimeout(loop, document.hidden ? 10000 : 3000);
}

function askCancel() {
  $("cancel-confirm-box").hidden = false;
  $("cancel-ticket").hidden = true;
  $("cancel-ticket-keep").focus();
}

function keepPlace() {
  $("cancel-confirm-box").hidden = true;
  $("cancel-ticket").hidden = false;
  $("cancel-ticket").focus();
}

async function confirmCancel() {
  $("cancel-ticket-confirm").disabled = true;
  try {
    const t = await api(`/track/${encodeURIComponent(TOKEN)}/cancel`, { method: "POST", noAuth: true });
    if (timer) clearTimeout(timer);
    $("cancel-confirm-box").hidden = true;
    show(t);
    $("status-line").setAttribute("tabindex", "-1");
    $("status-line").focus();
  } catch (e) {
    $("error").textContent = e.message;
  } finally { $("cancel-ticket-confirm").disabled = false; }
}

$("cancel-ticket").addEventListener("click", askCancel);
$("cancel-ticket-keep").addEventListener("click", keepPlace);
$("cancel-ticket-confirm").addEventListener("click", confirmCancel);
loop();
