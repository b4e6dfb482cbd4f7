// The catalogue page: the hall's items, the city's guide editor (versions), the hall's own values.
"use strict";
let hallId = null;
let items = [];
let current = null;

async function loadItems(hall) {
  hallId = hall;
  items = await api(`/halls/${encodeURIComponent(hall)}/catalogue`);
  const head = el("tr", {}, el("th", {}, "事项"), el("th", {}, "实施部门"), el("th", {}, "本厅"), el("th", {}, ""));
  const rows = items.map((it) => el("tr", { "data-code": it.code },
    el("td", {}, it.name, el("div", { class: "muted" }, it.code)),
    el("td", {}, it.department || "—"),
    el("td", {}, it.claimed ? el("span", { class: "badge" }, "办理 · " + (it.group_name || it.prefix)) : el("span", { class: "muted" }, "未认领")),
    el("td", {}, it.claimed
      ? el("button", { type: "button", class: "edit", onclick: () => openItem(it.code) }, "编辑指南")
      : claimControls(it))));
  $("items").replaceChildren(head, ...rows);
  if (current) openItem(current.code);
}

function claimControls(it) {
  const groups = [...new Map(items.filter((x) => x.claimed).map((x) => [x.prefix, x.group_name || x.prefix]))];
  const sel = el("select", { "aria-label": "队列" }, ...groups.map(([p, n]) => el("option", { value: p }, n)));
  const btn = el("button", { type: "button", class: "claim", onclick: async () => {
    try {
      await api(`/halls/${encodeURIComponent(hallId)}/services`, { method: "POST", body: { service_code: it.code, prefix: sel.value } });
      await loadItems(hallId);
    } catch (e) { alert(e.message); }
  } }, "认领");
  return el("span", {}, sel, " ", btn);
}

function materialRow(m) {
  const row = el("div", { class: "row-edit material" },
    el("label", { class: "name" }, "材料名称", el("input", { type: "text", class: "m-name", maxlength: 200, value: m.name || "" })),
    el("label", {}, "原件（份）", el("input", { type: "number", class: "m-orig", min: 0, max: 99, value: m.originals ?? 1 })),
    el("label", {}, "复印件（份）", el("input", { type: "number", class: "m-copies", min: 0, max: 99, value: m.copies ?? 0 })),
    el("label", { class: "note" }, "说明", el("input", { type: "text", class: "m-note", maxlength: 200, value: m.note || "" })),
    el("button", { type: "button", title: "删除", onclick: () => row.remove() }, "✕"));
  return row;
}

async function openItem(code) {
  const city = await api(`/services/${encodeURIComponent(code)}`, { noAuth: true });
  const it = items.find((x) => x.code === code) || {};
  current = city;
  const g = city.guide;
  $("editor").hidden = false;
  $("editor-title").textContent = "办事指南：" + city.name;
  $("version-line").textContent = city.version ? `当前第 ${city.version} 版（${city.valid_from.slice(0, 10)} 起）` : "尚无修改记录（初始导入版本）";
  $("g-name").value = city.name; $("g-department").value = city.department || ""; $("g-category").value = city.category || "";
  $("g-fee").value = g.fee || ""; $("g-time-limit").value = g.time_limit_days ?? ""; $("g-promise").value = g.promise_days ?? "";
  $("g-legal").value = g.legal_basis || ""; $("g-conditions").value = g.conditions || "";
  $("materials").replaceChildren(...(g.materials || []).map(materialRow));
  $("g-steps").value = (g.steps || []).join("\n"); $("g-forms").value = (g.forms || []).join("\n");
  $("g-location").value = g.location || ""; $("g-consult").value = g.consult_phone || ""; $("g-complaint").value = g.complaint_phone || "";
  $("g-online").value = g.online_url || ""; $("g-cap").value = g.daily_cap ?? ""; $("g-id").checked = !!g.id_required; $("g-notes").value = g.notes || "";
  const owner = Manage.ownsCatalogue();
  for (const node of $("guide-form").querySelectorAll("input, textarea, button")) node.disabled = !owner;
  $("owner-note").hidden = owner;
  const o = it.overrides || {};
  $("hall-form-hall").textContent = Manage.hallName(hallId);
  $("h-location").value = o.location || ""; $("h-consult").value = o.consult_phone || ""; $("h-complaint").value = o.complaint_phone || "";
  $("h-cap").value = o.daily_cap ?? ""; $("h-id").value = o.id_required === undefined ? "" : String(o.id_required);
  for (const id of ["guide-msg", "hall-msg"]) { $(id).textContent = ""; $(id).className = ""; }
  const versions = await api(`/services/${encodeURIComponent(code)}/versions`, { noAuth: true });
  $("versions").replaceChildren(...versions.map((v) => el("li", {},
    `第 ${v.version} 版 · ${v.valid_from.slice(0, 10)} · ${v.changed_by === "seed" ? "初始导入" : v.changed_by} `,
    el("a", { href: `/guide/${encodeURIComponent(code)}?at=${v.valid_from.slice(0, 10)}`, target: "_blank" }, "查看当时的指南"))));
}

function num(id) { const v = $(id).value.trim(); return v === "" ? null : Number(v); }

async function saveGuide(ev) {
  ev.preventDefault();
  const body = {
    name: $("g-name").value.trim(), department: $("g-department").value.trim(), category: $("g-category").value.trim(),
    legal_basis: $("g-legal").value.trim(), conditions: $("g-conditions").value.trim(),
    materials: [...$("materials").querySelectorAll(".material")].map((r) => ({
      name: r.querySelector(".m-name").value.trim(), originals: Number(r.querySelector(".m-orig").value || 0),
      copies: Number(r.querySelector(".m-copies").value || 0), note: r.querySelector(".m-note").value.trim(),
    })).filter((m) => m.name),
    fee: $("g-fee").value.trim(), time_limit_days: num("g-time-limit"), promise_days: num("g-promise"),
    steps: linesOf($("g-steps").value), forms: linesOf($("g-forms").value),
    location: $("g-location").value.trim(), consult_phone: $("g-consult").value.trim(), complaint_phone: $("g-complaint").value.trim(),
    online_url: $("g-online").value.trim(), id_required: $("g-id").checked, daily_cap: num("g-cap"), notes: $("g-notes").value.trim(),
  };
  try {
    const out = await api(`/services/${encodeURIComponent(current.code)}/guide`, { method: "PUT", body });
    const code = current.code;
    await loadItems(hallId);
    await openItem(code);
    showSaved($("guide-msg"), `已保存：${out.name} 第 ${out.version} 版 / Saved`);
  } catch (e) { showError($("guide-msg"), e); }
}

async function saveHall(ev) {
  ev.preventDefault();
  const idv = $("h-id").value;
  const body = {
    location: $("h-location").value.trim() || null, consult_phone: $("h-consult").value.trim() || null,
    complaint_phone: $("h-complaint").value.trim() || null, daily_cap: num("h-cap"), id_required: idv === "" ? null : idv === "true",
  };
  try {
    await api(`/halls/${encodeURIComponent(hallId)}/services/${encodeURIComponent(current.code)}/guide`, { method: "PUT", body });
    const code = current.code;
    await loadItems(hallId);
    await openItem(code);
    showSaved($("hall-msg"), `已保存 ${Manage.hallName(hallId)} 的设置 / Saved`);
  } catch (e) { showError($("hall-msg"), e); }
}

$("guide-form").addEventListener("submit", saveGuide);
$("hall-form").addEventListener("submit", saveHall);
$("add-material").addEventListener("click", () => $("materials").appendChild(materialRow({ originals: 1, copies: 0 })));
managePage((hall) => { current = null; $("editor").hidden = true; return loadItems(hall); });
