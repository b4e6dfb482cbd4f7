// What every managers' page (/manage/*) shares: the session, the hall picker (names, never ids),
// and saying that a form was saved — page-wide (#flash) or beside the form (showSaved / showError).
"use strict";
const $ = (id) => document.getElementById(id);

const Manage = {
  halls: [],  // the halls the manager may run, flat: [{id, name, level, parent_id}]
  me: null,
  hallName(id) { const h = this.halls.find((x) => x.id === id); return h ? h.name : ""; },
  levelOf(id) { const h = this.halls.find((x) => x.id === id); return h ? h.level : ""; },
  // The caller edits the city's catalogue and calendar (admin, or a manager of a city-level hall).
  ownsCatalogue() { return this.me && (this.me.role === "admin" || this.levelOf(this.me.hall_id) === "city"); },
  depth(h) {
    let d = 0, p = h.parent_id;
    while (p && d < 6) { d++; p = (this.halls.find((x) => x.id === p) || {}).parent_id; }
    return d;
  },
};

// Without a session: the page's own notice (#need-login) where it has one, else the dashboard's log-in.
function needLogin() {
  const box = $("need-login");
  if (box) box.hidden = false; else location.href = "/dashboard";
}

// Start a managers' page: check the session, fill the hall picker (select[data-hall-picker]), then
// onHall(hallId) now and on every change (onHall(null) on a page without a picker). The hall comes
// from ?hall=, else the one chosen last on any managers' page, else the manager's own.
async function managePage(onHall) {
  if (!authToken()) { needLogin(); return; }
  window.addEventListener("hall-session-ended", needLogin);
  try {
    Manage.me = await api("/auth/me");
    Manage.halls = await api("/dashboard/halls");
  } catch (e) {
    if (e.status === 401) { needLogin(); return; }  // the session event has said so already
    throw e;  // anything else is the page's to show
  }
  const who = $("who");
  if (who && Manage.me.user) who.textContent = Manage.me.user.name || Manage.me.user.username;
  const app = $("app");
  if (app) app.hidden = false;
  const pick = document.querySelector("select[data-hall-picker]");
  if (!pick) { await onHall(null); return; }
  // Indented by depth so the tree reads as a tree; the value is the id, the text the name.
  pick.replaceChildren(...Manage.halls.map((h) => el("option", { value: h.id }, "\u3000".repeat(Manage.depth(h)) + h.name)));
  const wanted = [new URLSearchParams(location.search).get("hall"), sessionStorage.getItem("manage_hall"), Manage.me.hall_id];
  const first = wanted.find((id) => id && Manage.halls.some((h) => h.id === id));
  if (first) pick.value = first;
  pick.addEventListener("change", () => { sessionStorage.setItem("manage_hall", pick.value); onHall(pick.value); });
  if (Manage.halls.length) await onHall(pick.value);
}

// The page-wide confirmation (or refusal) at the top of the page, in words.
function flash(text, isError = false) {
  const box = $("flash");
  box.className = "flash" + (isError ? " error" : "");
  box.textContent = text;
  box.setAttribute("role", isError ? "alert" : "status");
  if (!isError) setTimeout(() => { if (box.textContent === text) box.textContent = ""; }, 8000);
}

// A form's own confirmation, where the user is looking.
function showSaved(node, text) {
  node.className = "saved";
  node.textContent = "✓ " + text;
  node.setAttribute("role", "status");
}

function showError(node, err) {
  node.className = "error";
  node.textContent = err.message || String(err);
  node.setAttribute("role", "alert");
}

function linesOf(text) { return text.split("\n").map((s) => s.trim()).filter(Boolean); }

function fmtTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("zh-CN", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
