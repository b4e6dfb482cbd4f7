// Shared by the catalogue, rules and calendar pages: the session check, the hall picker (names, never ids), the saved notice.
"use strict";

const Manage = {
  halls: [],
  me: null,
  hallName(id) { const h = this.halls.find((x) => x.id === id); return h ? h.name : ""; },
  levelOf(id) { const h = this.halls.find((x) => x.id === id); return h ? h.level : ""; },
  // The caller edits the city's catalogue and calendar (admin, or a manager of a city-level hall).
  ownsCatalogue() { return this.me && (this.me.role === "admin" || this.levelOf(this.me.hall_id) === "city"); },
};

async function manageStart(onReady) {
  const box = document.getElementById("need-login");
  if (!authToken()) { box.hidden = false; return; }
  try {
    Manage.me = await api("/auth/me");
    Manage.halls = await api("/dashboard/halls");
  } catch (e) {
    box.hidden = false;
    return;
  }
  const who = document.getElementById("who");
  if (who && Manage.me.user) who.textContent = Manage.me.user.name || Manage.me.user.username;
  const pick = document.getElementById("hall-pick");
  if (pick) {
    // Indented by depth so the tree reads as a tree; the value is the id, the text the name.
    const depth = (h) => { let d = 0, p = h.parent_id; while (p && d < 6) { d++; p = (Manage.halls.find((x) => x.id === p) || {}).parent_id; } return d; };
    pick.replaceChildren(...Manage.halls.map((h) => el("option", { value: h.id }, "\u3000".repeat(depth(h)) + h.name)));
    const want = new URLSearchParams(location.search).get("hall") || Manage.me.hall_id;
    if (want && Manage.halls.some((h) => h.id === want)) pick.value = want;
    pick.addEventListener("change", () => onReady(pick.value));
    document.getElementById("app").hidden = false;
    onReady(pick.value);
  } else {
    document.getElementById("app").hidden = false;
    onReady(null);
  }
}

// A saved form says so, in words, where the user is looking.
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
