// What every managers' page (/manage/*) shares: the session, the hall chooser, the save confirmation.
"use strict";
const $ = (id) => document.getElementById(id);

// Halls the manager may run, flat with their names: [{id, name, level, parent_id}].
let HALLS = [];

async function managePage(onHall) {
  if (!authToken()) { location.href = "/dashboard"; return; }
  window.addEventListener("hall-session-ended", () => { location.href = "/dashboard"; });
  const me = await api("/auth/me");
  $("who").textContent = (me.user && (me.user.name || me.user.username)) || "";
  HALLS = await api("/dashboard/halls");
  const sel = $("hall");
  sel.replaceChildren(...HALLS.map((h) => el("option", { value: h.id }, h.name)));
  const remembered = sessionStorage.getItem("manage_hall");
  if (remembered && HALLS.some((h) => h.id === remembered)) sel.value = remembered;
  sel.addEventListener("change", () => { sessionStorage.setItem("manage_hall", sel.value); onHall(sel.value); });
  if (HALLS.length) await onHall(sel.value);
}

function hallName(id) { const h = HALLS.find((x) => x.id === id); return h ? h.name : ""; }

// A confirmation (or the refusal) that a form was saved, in words, at the top of the page.
function flash(text, isError = false) {
  const box = $("flash");
  box.className = "flash" + (isError ? " error" : "");
  box.textContent = text;
  box.setAttribute("role", isError ? "alert" : "status");
  if (!isError) setTimeout(() => { if (box.textContent === text) box.textContent = ""; }, 8000);
}

function fmtTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("zh-CN", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
