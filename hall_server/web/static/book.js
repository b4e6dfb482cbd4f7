// The phone booking page: choose a service, a day and a slot, give ID number and phone, book or cancel.
"use strict";
const HALL = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const WEEK = ["", "周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const $ = id => document.getElementById(id);
const choice = { day: null, start: null };
let booking = null;
// Where an error of the server belongs: the field (its element and its name) the visitor must change.
const FIELDS = {
  service_code: ["service", "办理事项", "Service"], day: ["days", "预约日期", "Day"], start: ["slots", "预约时段", "Time"],
  id_number: ["id_number", "身份证号码", "ID number"], phone: ["phone", "手机号码", "Mobile"], name: ["name", "姓名", "Name"],
};
const FIELD_OF_CODE = {
  "id.invalid": "id_number", "booking.person_day_limit": "id_number", "booking.blocked": "id_number",
  "booking.phone_invalid": "phone", "booking.slot_full": "start", "booking.slot_unknown": "start",
  "booking.day_not_bookable": "day", "booking.service_not_bookable": "service_code",
};

async function init() {
  try {
    const hall = await api(`/halls/${encodeURIComponent(HALL)}`, { noAuth: true });
    $("hall-name").textContent = hall.name;
    const services = await api(`/halls/${encodeURIComponent(HALL)}/appointment-services`, { noAuth: true });
    $("service").replaceChildren(...services.map(s => el("option", { value: s.code }, `${s.name}（${s.category}）`)));
    $("service").addEventListener("change", loadSlots);
    $("book-form").addEventListener("submit", onBook);
    $("cancel").addEventListener("click", onCancel);
    $("cancel-confirm").addEventListener("click", onCancelConfirm);
    await loadSlots();
  } catch (e) { $("error").textContent = e.message; }
}

async function loadSlots() {
  choice.day = null; choice.start = null;
  const a = await api(`/halls/${encodeURIComponent(HALL)}/appointment-slots?service_code=${encodeURIComponent($("service").value)}`, { noAuth: true });
  const r = a.rules;
  $("rules").textContent = `可预约${r.min_days_ahead}天后至${r.max_working_days_ahead}个工作日内；距开始不足${r.cancel_min_hours}小时不能取消；每人每天限约一次。`;
  $("days").replaceChildren(...a.days.map(d => {
    const free = d.slots.reduce((n, s) => n + s.available, 0);
    return el("button", { type: "button", "data-day": d.day, "aria-pressed": "false", disabled: free === 0, onclick: () => pickDay(d) },
      `${d.day.slice(5)} ${WEEK[d.weekday]}`, el("br"), el("span", { class: "muted" }, free ? `余${free}` : "约满"));
  }));
  $("slots").replaceChildren(el("span", { class: "muted" }, "请先选择日期 ", el("span", { lang: "en" }, "/ choose a day")));
}

// A pressed day or slot says so in words to a screen reader (aria-pressed) and in shape on screen (CSS tick).
function press(group, attr, value) {
  document.querySelectorAll(`#${group} button`).forEach(b => b.setAttribute("aria-pressed", String(b.dataset[attr] === value)));
}

function pickDay(d) {
  choice.day = d.day; choice.start = null;
  press("days", "day", d.day);
  $("slots").replaceChildren(...d.slots.map(s => el("button", {
    type: "button", "data-start": s.start, "aria-pressed": "false", disabled: s.available === 0,
    onclick: () => { choice.start = s.start; press("slots", "start", s.start); clearError(); },
  }, `${s.start}-${s.end}`, el("br"), el("span", { class: "muted" }, s.available ? `余${s.available}` : "约满"))));
  clearError();
}

function clearError() {
  $("error").textContent = "";
  document.querySelectorAll("[aria-invalid]").forEach(n => { n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
}

// The error names its field, marks it invalid and takes the focus there.
function fieldError(field, zh, en) {
  const [id, nameZh, nameEn] = FIELDS[field];
  $("error").replaceChildren(...bilingual(`${nameZh}：${zh}`, en ? `/ ${nameEn}: ${en}` : ""));
  const node = $(id);
  const target = node.matches("input, select") ? node : node.querySelector("button:not([disabled])") || node;
  if (node.matches("input, select")) { node.setAttribute("aria-invalid", "true"); node.setAttribute("aria-describedby", "error"); }
  target.focus();
}

function fieldOf(e) {
  if (FIELD_OF_CODE[e.code]) return FIELD_OF_CODE[e.code];
  const problems = (e.body && e.body.detail && e.body.detail.errors) || [];
  for (const p of problems) { const f = (p.loc || []).find(part => FIELDS[part]); if (f) return f; }
  return null;
}

function checkForm() {
  const idNumber = $("id_number").value.trim();
  const phone = $("phone").value.trim();
  if (!choice.day) return ["day", "请选择预约日期", "choose a day"];
  if (!choice.start) return ["start", "请选择预约时段", "choose a time"];
  if (!idNumber) return ["id_number", "请填写身份证号码", "required"];
  if (!/^[0-9]{17}[0-9Xx]$|^[0-9]{15}$/.test(idNumber)) return ["id_number", "应为18位（末位可为X）", "18 characters, the last may be X"];
  if (!phone) return ["phone", "请填写手机号码", "required"];
  if (!/^1[0-9]{10}$/.test(phone)) return ["phone", "应为11位手机号码", "an 11-digit mobile number"];
  return null;
}

async function onBook(ev) {
  ev.preventDefault();
  clearError();
  const wrong = checkForm();
  if (wrong) { fieldError(...wrong); return; }
  $("submit").disabled = true;
  try {
    booking = await api(`/halls/${encodeURIComponent(HALL)}/appointments`, { method: "POST", noAuth: true, body: {
      service_code: $("service").value, day: choice.day, start: choice.start, id_number: $("id_number").value.trim().toUpperCase(),
      phone: $("phone").value.trim(), name: $("name").value.trim() || null, channel: "web" } });
    showBooking(booking);
  } catch (e) {
    const field = fieldOf(e);
    if (field) fieldError(field, e.body ? e.body.message : e.message, e.body ? e.body.message_en : "");
    else $("error").textContent = e.message;
  } finally { $("submit").disabled = false; }
}

// The confirmation replaces the picker and the form (nothing below it resets); focus goes to its heading.
function showBooking(b) {
  $("picker").hidden = true; $("book-form").hidden = true; $("rules").hidden = true; $("done").hidden = false;
  $("code").textContent = b.code;
  $("code").setAttribute("aria-label", `预约号 ${b.code.split("").join(" ")}`);
  const start = new Date(b.start_at);
  $("summary").replaceChildren(
    el("div", { class: "row" }, el("span", {}, "事项"), el("b", {}, b.service_name || b.service_code)),
    el("div", { class: "row" }, el("span", {}, "时间"), el("b", {}, `${b.day} ${start.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" })}`)),
    el("div", { class: "row" }, el("span", {}, "预约人"), el("b", {}, `${b.holder.name_masked || ""} ${b.holder.id_masked}`)),
    el("div", { class: "row" }, el("span", {}, "手机"), el("b", {}, b.holder.phone_masked || "")));
  $("checkin-qr").src = b.checkin_qr;
  $("checkin-qr").alt = `签到二维码，预约号 ${b.code}`;
  $("done-title").focus();
}

// Cancelling needs proof of the person: a code texted to the phone the booking was made with.
async function onCancel() {
  if (!booking) return;
  try {
    const sent = await api(`/appointments/${encodeURIComponent(booking.code)}/cancel-code`, { method: "POST", noAuth: true, body: { id_number: $("id_number").value.trim().toUpperCase() } });
    $("cancel-msg").className = "";
    $("cancel-msg").replaceChildren(...bilingual(`验证码已发送至 ${sent.sent_to}，${sent.valid_minutes}分钟内有效`, "/ code sent"));
    $("cancel-proof").hidden = false; $("cancel-code").focus();
  } catch (e) { $("cancel-msg").className = "error"; $("cancel-msg").textContent = e.message; }
}

async function onCancelConfirm() {
  if (!booking) return;
  try {
    await api(`/appointments/${encodeURIComponent(booking.code)}/cancel`, { method: "POST", noAuth: true, body: { id_number: $("id_number").value.trim().toUpperCase(), verification_code: $("cancel-code").value.trim() } });
    $("cancel-msg").className = ""; $("cancel-msg").replaceChildren(...bilingual("已取消预约", "/ cancelled"));
    $("cancel").disabled = true; $("cancel-proof").hidden = true;
  } catch (e) { $("cancel-msg").className = "error"; $("cancel-msg").textContent = e.message; }
}

init();
