// The phone booking page: choose a service, a day and a slot, give ID number and phone, book or cancel.
"use strict";
const HALL = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const WEEK = ["", "周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const $ = id => document.getElementById(id);
const choice = { day: null, start: null };
let booking = null;

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
    return el("button", { type: "button", "data-day": d.day, disabled: free === 0, onclick: ev => pickDay(ev, d) },
      `${d.day.slice(5)} ${WEEK[d.weekday]}`, el("br"), el("span", { class: "muted" }, free ? `余${free}` : "约满"));
  }));
  $("slots").replaceChildren(el("span", { class: "muted" }, "请先选择日期 / choose a day"));
}

function pickDay(ev, d) {
  choice.day = d.day; choice.start = null;
  document.querySelectorAll("#days button").forEach(b => b.classList.toggle("sel", b.dataset.day === d.day));
  $("slots").replaceChildren(...d.slots.map(s => el("button", {
    type: "button", "data-start": s.start, disabled: s.available === 0,
    onclick: () => { choice.start = s.start; document.querySelectorAll("#slots button").forEach(b => b.classList.toggle("sel", b.dataset.start === s.start)); },
  }, `${s.start}-${s.end}`, el("br"), el("span", { class: "muted" }, s.available ? `余${s.available}` : "约满"))));
}

async function onBook(ev) {
  ev.preventDefault();
  $("error").textContent = "";
  if (!choice.day || !choice.start) { $("error").textContent = "请选择日期和时段 / choose a day and a time"; return; }
  $("submit").disabled = true;
  try {
    booking = await api(`/halls/${encodeURIComponent(HALL)}/appointments`, { method: "POST", noAuth: true, body: {
      service_code: $("service").value, day: choice.day, start: choice.start, id_number: $("id_number").value.trim().toUpperCase(),
      phone: $("phone").value.trim(), name: $("name").value.trim() || null, channel: "web" } });
    $("book-form").hidden = true; $("done").hidden = false;
    loadSlots().catch(() => {});  // show the place as taken
    $("code").textContent = booking.code;
    const start = new Date(booking.start_at);
    $("summary").replaceChildren(
      el("div", { class: "row" }, el("span", {}, "事项"), el("b", {}, booking.service_name || booking.service_code)),
      el("div", { class: "row" }, el("span", {}, "时间"), el("b", {}, `${booking.day} ${start.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" })}`)),
      el("div", { class: "row" }, el("span", {}, "预约人"), el("b", {}, `${booking.holder.name_masked || ""} ${booking.holder.id_masked}`)),
      el("div", { class: "row" }, el("span", {}, "手机"), el("b", {}, booking.holder.phone_masked || "")));
  } catch (e) { $("error").textContent = e.message; }
  finally { $("submit").disabled = false; }
}

// Cancelling needs proof of the person: a code texted to the phone the booking was made with.
async function onCancel() {
  if (!booking) return;
  try {
    const sent = await api(`/appointments/${encodeURIComponent(booking.code)}/cancel-code`, { method: "POST", noAuth: true, body: { id_number: $("id_number").value.trim().toUpperCase() } });
    $("cancel-msg").className = "";
    $("cancel-msg").textContent = `验证码已发送至 ${sent.sent_to}，${sent.valid_minutes}分钟内有效 / code sent`;
    $("cancel-proof").hidden = false; $("cancel-code").focus();
  } catch (e) { $("cancel-msg").className = "error"; $("cancel-msg").textContent = e.message; }
}

async function onCancelConfirm() {
  if (!booking) return;
  try {
    await api(`/appointments/${encodeURIComponent(booking.code)}/cancel`, { method: "POST", noAuth: true, body: { id_number: $("id_number").value.trim().toUpperCase(), verification_code: $("cancel-code").value.trim() } });
    $("cancel-msg").className = ""; $("cancel-msg").textContent = "已取消预约 / cancelled";
    $("cancel").disabled = true; $("cancel-proof").hidden = true;
  } catch (e) { $("cancel-msg").className = "error"; $("cancel-msg").textContent = e.message; }
}

init();
