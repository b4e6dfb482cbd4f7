// 人员管理: clerks and managers of the manager's subtree; create, edit, disable, reset password,
// 工号 and photo (shown with the name on the rating terminal).
"use strict";
const ROLE_ZH = { clerk: "窗口人员", manager: "管理人员" };
const PHOTO_MAX_BYTES = 2 * 1024 * 1024;
let photoUrls = [];  // object URLs of the photos shown, released on the next render
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

// The photo is personal data behind the manager's token: fetched as a blob, never by a plain URL.
async function photoUrl(userId) {
  const res = await fetch(API + "/staff/" + userId + "/photo", { headers: { Authorization: "Bearer " + authToken() } });
  if (!res.ok) return null;
  const url = URL.createObjectURL(await res.blob());
  photoUrls.push(url);
  return url;
}

function photoCell(s) {
  if (!s.has_photo) return el("td", { class: "muted" }, "—");
  const img = el("img", { alt: "照片：" + s.name, width: 45, height: 60, class: "staff-photo" });
  photoUrl(s.id).then((url) => { if (url) img.src = url; });
  return el("td", {}, img);
}

function renderStaff() {
  photoUrls.forEach((u) => URL.revokeObjectURL(u));
  photoUrls = [];
  const head = el("tr", {}, el("th", {}, "照片"), el("th", {}, "姓名"), el("th", {}, "工号"), el("th", {}, "登录名"), el("th", {}, "角色"), el("th", {}, "所属大厅"), el("th", {}, "状态"), el("th", {}, "操作"));
  const rows = staff.map((s) => el("tr", { class: s.active ? "" : "inactive", "data-username": s.username },
    photoCell(s), el("td", {}, s.name), el("td", { class: "staff-number" }, s.staff_number || "—"),
    el("td", {}, s.username), el("td", {}, ROLE_ZH[s.role] || s.role),
    el("td", {}, s.hall_name), el("td", {}, s.active ? "在用" : "已停用"),
    el("td", {},
      el("button", { type: "button", onclick: () => startEdit(s) }, "编辑"),
      el("button", { type: "button", onclick: () => startReset(s) }, "重置密码"),
      el("button", { type: "button", onclick: () => setActive(s, !s.active) }, s.active ? "停用" : "启用"))));
  $("staff").replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted" }, "暂无人员 / none"))]));
}

function startEdit(s) {
  editing = s;
  $("form-title").firstChild.textContent = "编辑人员：" + s.name + " ";
  $("s-name").value = s.name; $("s-username").value = s.username; $("s-username").disabled = true;
  $("s-role").value = s.role; $("s-hall").value = s.hall_id;
  $("s-number").value = s.staff_number || ""; $("s-photo").value = "";
  $("s-photo-remove").hidden = !s.has_photo;
  showPreview(null);
  if (s.has_photo) photoUrl(s.id).then(showPreview);
  $("s-password-box").hidden = true; $("s-cancel").hidden = false;
  $("s-name").focus();
}

function showPreview(url) {
  $("s-photo-preview").hidden = !url;
  if (url) $("s-photo-preview").src = url; else $("s-photo-preview").removeAttribute("src");
}

function choosePhoto() {
  const file = $("s-photo").files[0];
  if (!file) { showPreview(null); return; }
  if (file.size > PHOTO_MAX_BYTES) flash("照片超过2MB，请压缩后再上传 / The photo is larger than 2 MB", true);
  const url = URL.createObjectURL(file);
  photoUrls.push(url);
  showPreview(url);
}

// The chosen photo goes up after the account is saved; the server checks type and size again.
async function uploadPhoto(s) {
  const file = $("s-photo").files[0];
  if (!file) return s;
  const type = file.type || "application/octet-stream";
  return api("/staff/" + s.id + "/photo", { method: "PUT", body: file, headers: { "Content-Type": type } });
}

async function removePhoto() {
  if (!editing) return;
  try {
    await api("/staff/" + editing.id + "/photo", { method: "DELETE" });
    flash("已删除照片：" + editing.name);
    resetForm();
    await loadStaff($("hall").value);
  } catch (e) { flash("未删除：" + e.message, true); }
}

function resetForm() {
  editing = null;
  $("form-title").firstChild.textContent = "新增人员 ";
  $("staff-form").reset(); $("s-username").disabled = false;
  $("s-hall").value = $("hall").value;
  $("s-photo-remove").hidden = true; showPreview(null);
  $("s-password-box").hidden = false; $("s-cancel").hidden = true;
}

async function saveStaff(ev) {
  ev.preventDefault();
  const body = { name: $("s-name").value.trim(), role: $("s-role").value, hall_id: $("s-hall").value };
  const number = $("s-number").value.trim();
  let saved = null;
  try {
    if (editing) {
      body.staff_number = number;  // "" clears it
      saved = await api("/staff/" + editing.id, { method: "PATCH", body });
      flash("已保存：" + saved.name + "（" + (ROLE_ZH[saved.role] || saved.role) + "，" + saved.hall_name + "）");
    } else {
      body.username = $("s-username").value.trim();
      body.password = $("s-password").value;
      if (number) body.staff_number = number;
      saved = await api("/staff", { method: "POST", body });
      flash("已新增：" + saved.name + "（登录名 " + saved.username + "，" + saved.hall_name + "）");
    }
  } catch (e) { flash("未保存：" + e.message, true); $("s-name").focus(); return; }
  try {
    const withPhoto = await uploadPhoto(saved);
    if (withPhoto !== saved) flash("已保存：" + saved.name + "，照片已更新 / photo saved");
  } catch (e) {
    // The account is saved; only the photo was refused (its type, size or content).
    flash("照片未保存：" + e.message, true);
    await loadStaff($("hall").value);
    return;
  }
  resetForm();
  await loadStaff($("hall").value);
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
  $("s-photo").addEventListener("change", choosePhoto);
  $("s-photo-remove").addEventListener("click", removePhoto);
  $("pw-form").addEventListener("submit", saveReset);
  $("pw-cancel").addEventListener("click", () => $("pw-dialog").close());
  managePage(loadStaff).catch((e) => flash(e.message, true));
});
