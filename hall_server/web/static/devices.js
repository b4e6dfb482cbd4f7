// 设备管理: register a device by a one-time code, rotate or revoke its token, see its health.
"use strict";

async function loadDevices(hallId) {
  const [reg, snap] = await Promise.all([
    api("/halls/" + encodeURIComponent(hallId) + "/device-registry"),
    api("/halls/" + encodeURIComponent(hallId) + "/snapshot"),
  ]);
  const wins = snap.windows.slice().sort((a, b) => a.number - b.number);
  $("e-window").replaceChildren(...wins.map((w) => el("option", { value: w.id }, w.number + "号窗口 " + (w.name || ""))));
  renderTokens(reg.tokens);
  const ph = el("tr", {}, el("th", {}, "名称"), el("th", {}, "类型"), el("th", {}, "窗口"), el("th", {}, "有效至"));
  const pr = reg.pending.map((p) => el("tr", {}, el("td", {}, p.label || "—"), el("td", {}, p.role_zh),
    el("td", {}, p.window || "—"), el("td", {}, p.expired ? "已过期" : fmtTime(p.expires_at))));
  $("pending").replaceChildren(ph, ...(pr.length ? pr : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "无 / none"))]));
  const hh = el("tr", {}, el("th", {}, "设备"), el("th", {}, "类型"), el("th", {}, "版本"), el("th", {}, "最近心跳"), el("th", {}, "状态"), el("th", {}, "故障"));
  const hr = reg.devices.map((d) => el("tr", {}, el("td", {}, d.device_id), el("td", {}, d.kind), el("td", {}, d.version || "—"),
    el("td", {}, fmtTime(d.last_seen)), el("td", { class: d.ok ? "ok" : "error" }, d.stale ? "离线" : d.ok ? "正常" : d.warning ? "提醒" : "故障"),
    el("td", {}, d.faults.map((f) => f.message).join("；") || "—")));
  $("health").replaceChildren(hh, ...(hr.length ? hr : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "尚无设备心跳 / no heartbeat yet"))]));
}

function renderTokens(tokens) {
  const head = el("tr", {}, el("th", {}, "名称"), el("th", {}, "类型"), el("th", {}, "窗口"), el("th", {}, "登记时间"), el("th", {}, "最近使用"), el("th", {}, "状态"), el("th", {}, "操作"));
  const rows = tokens.map((t) => el("tr", { class: t.revoked ? "inactive" : "", "data-label": t.label },
    el("td", {}, t.label || "—"), el("td", {}, t.role_zh), el("td", {}, t.window || "—"),
    el("td", {}, fmtTime(t.created_at)), el("td", {}, fmtTime(t.last_used_at)), el("td", {}, t.revoked ? "已注销" : "在用"),
    el("td", {}, t.revoked ? "" : [
      el("button", { type: "button", onclick: () => rotate(t) }, "轮换"),
      el("button", { type: "button", onclick: () => revoke(t) }, "注销")])));
  $("tokens").replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "无 / none"))]));
}

async function issue(ev) {
  ev.preventDefault();
  const body = { role: $("e-role").value, label: $("e-label").value.trim() };
  if (body.role === "rating") body.window_id = Number($("e-window").value);
  try {
    const r = await api("/halls/" + encodeURIComponent($("hall").value) + "/enrolments", { method: "POST", body });
    $("e-code").textContent = r.code;
    $("e-expires").textContent = fmtTime(r.expires_at);
    $("e-cmd").textContent = "hall-kiosk --server " + location.origin + " --enrol " + r.code;
    $("e-qr").innerHTML = r.qr_svg || "";  // an SVG the server drew from the code
    $("enrol-result").hidden = false;
    flash("已登记：" + (r.label || r.role) + "，请在设备上输入登记码 " + r.code);
    $("e-label").value = "";
    await loadDevices($("hall").value);
  } catch (e) { flash("未登记：" + e.message, true); }
}

async function rotate(t) {
  try {
    const r = await api("/tokens/" + t.id + "/rotate", { method: "POST" });
    flash("已轮换：" + (t.label || t.role_zh) + "。新令牌（仅显示一次）：" + r.token);
    await loadDevices($("hall").value);
  } catch (e) { flash("未轮换：" + e.message, true); }
}

async function revoke(t) {
  try {
    await api("/tokens/" + t.id + "/revoke", { method: "POST" });
    flash("已注销：" + (t.label || t.role_zh) + "，该设备已无法连接");
    await loadDevices($("hall").value);
  } catch (e) { flash("未注销：" + e.message, true); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("e-role").addEventListener("change", () => { $("e-window-box").hidden = $("e-role").value !== "rating"; });
  $("enrol-form").addEventListener("submit", issue);
  managePage(loadDevices).catch((e) => flash(e.message, true));
});
