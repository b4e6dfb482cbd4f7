// 人员管理: clerks and managers of the manager's subtree; create, edit, disable, reset password.
"use strict";
const ROLE_ZH = { clerk: "窗口人员", manager: "管理人员" };
let staff = [];
let editing = null;  // the staff member being edited, or null for a new one
let resetting = null;

async function loadStaff(hallId) {
  $("s-hall").replaceChildren(...Manage.halls.map((h) => el("option", { value: h.id }, h.name)));
  $("s-hall").value = hallId;
  staff = (await api("/staff")).filter((s) => s.hall_id === hallId || isBelow(s.hall_id, hallId));
  renderStaff();
}

function isBelow(hallId, root) {
  let cur = Manage.halls.find((h) => h.id === hallId);
  while (cur && cur.parent_id) {
    if (cur.parent_id === root) return true;
    cur = Manage.halls.find((h) => h.id === cur.parent_id);
  }
  return false;
}

function renderStaff() {
  const head = el("tr", {}, el("th", {}, "姓名"), el("th", {}, "登录名"), el("th", {}, "角色"), el("th", {}, "所属大厅"), el("th", {}, "状态"), el("th", {}, "操作"));
  const rows = staff.map((s) => el("tr", { class: s.active ? "" : "inactive", "data-username": s.username },
    el("td", {}, s.name), el("td", {}, s.username), el("td", {}, ROLE_ZH[s.role] || s.role),
    el("td", {}, s.hall_name), el("td", {}, s.active ? "在用" : "已停用"),
    el("td", {},
      el("button", { type: "button", onclick: () => startEdit(s) }, "编辑"),
      el("button", { type: "button", onclick: () => startReset(s) }, "重置密码"),
      el("button", { type: "button", onclick: () => setActive(s, !s.active) }, s.active ? "停用" : "启用"))));
  $("staff").replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "暂无人员 / none"))]));
}

function startEdit(s) {
  editing = s;
  $("form-title").firstChild.textContent = "编辑人员：" + s.name + " ";
  $("s-name").value = s.name; $("s-username").value = s.username; $("s-username").disabled = true;
  $("s-role").value = s.role; $("s-hall").value = s.hall_id;
  $("s-password-box").hidden = true; $("s-cancel").hidden = false;
  $("s-name").focus();
}

function resetForm() {
  editing = null;
  $("form-title").firstChild.textContent = "新增人员 ";
  $("staff-form").reset(); $("s-username").disabled = false;
  $("s-hall").value = $("hall").value;
  $("s-password-box").hidden = false; $("s-cancel").hidden = true;
}

async function saveStaff(ev) {
  ev.preventDefault();
  const body = { name: $("s-name").value.trim(), role: $("s-role").value, hall_id: $("s-hall").value };
  try {
    if (editing) {
      const s = await api("/staff/" + editing.id, { method: "PATCH", body });
      flash("已保存：" + s.name + "（" + (ROLE_ZH[s.role] || s.role) + "，" + s.hall_name + "）");
    } else {
      body.username = $("s-username").value.trim();
      body.password = $("s-password").value;
      const s = await api("/staff", { method: "POST", body });
      flash("已新增：" + s.name + "（登录名 " + s.username + "，" + s.hall_name + "）");
    }
    resetForm();
    await loadStaff($("hall").value);
  } catch (e) { flash("未保存：" + e.message, true); }
}

async function setActive(s, active) {
  try {
    await api("/staff/" + s.id, { method: "PATCH", body: { active } });
    flash(active ? "已启用：" + s.name : "已停用：" + s.name + "，其登录会话已结束");
    await loadStaff($("hall").value);
  } catch (e) { flash("未保存：" + e.message, true); }
}

function startReset(s) {
  resetting = s;
  $("pw-who").textContent = s.name + "（" + s.username + "）";
  $("pw-new").value = ""; $("pw-msg").textContent = "";
  $("pw-dialog").showModal();
}

async function saveReset(ev) {
  ev.preventDefault();
  try {
    await api("/staff/" + resetting.id + "/password", { method: "POST", body: { password: $("pw-new").value } });
    $("pw-dialog").close();
    flash("已重置密码：" + resetting.name + "，其登录会话已结束");
  } catch (e) { $("pw-msg").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  $("staff-form").addEventListener("submit", saveStaff);
  $("s-cancel").addEventListener("click", resetForm);
  $("pw-form").addEventListener("submit", saveReset);
  $("pw-cancel").addEventListener("click", () => $("pw-dialog").close());
  managePage(loadStaff).catch((e) => flash(e.message, true));
});
