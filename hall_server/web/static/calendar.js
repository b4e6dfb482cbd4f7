// The calendar editor: one year's holidays and make-up working days, and whether they were checked.
"use strict";
const ORIGIN = { database: "本市已编辑", file: "随软件发布的文件", none: "无日历（仅按周末计算）" };
const splitDays = (text) => text.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

function holidayRow(h) {
  const row = el("div", { class: "row-edit holiday" },
    el("label", { class: "name" }, "节日", el("input", { type: "text", class: "h-name", maxlength: 50, value: h.name || "" })),
    el("label", { class: "note" }, "放假日期", el("input", { type: "text", class: "h-days", value: (h.days || []).join(", ") })),
    el("label", { class: "note" }, "调休上班", el("input", { type: "text", class: "h-work", value: (h.workdays || []).join(", ") })),
    el("span", {}),
    el("button", { type: "button", title: "删除", onclick: () => row.remove() }, "✕"));
  return row;
}

async function showStatus() {
  const years = await api("/calendars");
  const bad = years.filter((y) => !y.verified);
  $("cal-status").replaceChildren(bad.length
    ? el("div", { class: "cal-banner", role: "status" }, `⚠ ${bad.map((y) => y.year + "年").join("、")}日历未核对：期限按暂定日历${bad.some((y) => y.origin === "none") ? "或仅按周末" : ""}计算，请核对后勾选“已核对”。`)
    : el("div", { class: "saved" }, "✓ 今明两年的日历均已核对 / verified"));
  return years;
}

async function loadYear(year) {
  const cal = await api(`/calendars/${year}`);
  $("holidays").replaceChildren(...cal.holidays.map(holidayRow));
  $("source").value = cal.source || "";
  $("verified").checked = cal.verified;
  $("cal-origin").textContent = "来源：" + ORIGIN[cal.origin] + (cal.updated_by ? `（${cal.updated_by} 修改于 ${cal.updated_at.slice(0, 10)}）` : "");
  const owner = Manage.ownsCatalogue();
  for (const node of $("cal-form").querySelectorAll("input:not(#year), button")) node.disabled = !owner;
}

async function save(ev) {
  ev.preventDefault();
  const year = $("year").value;
  const body = {
    holidays: [...$("holidays").querySelectorAll(".holiday")].map((r) => ({
      name: r.querySelector(".h-name").value.trim(), days: splitDays(r.querySelector(".h-days").value), workdays: splitDays(r.querySelector(".h-work").value),
    })).filter((h) => h.name),
    verified: $("verified").checked, source: $("source").value.trim(),
  };
  try {
    await api(`/calendars/${year}`, { method: "PUT", body });
    await loadYear(year);
    await showStatus();
    showSaved($("cal-msg"), `已保存 ${year} 年日历${body.verified ? "（已核对）" : "（未核对）"} / Saved`);
  } catch (e) { showError($("cal-msg"), e); }
}

managePage(async () => {
  const years = await showStatus();
  const all = [years[0].year - 1, ...years.map((y) => y.year)];
  $("year").replaceChildren(...all.map((y) => el("option", { value: y }, y + " 年")));
  const firstBad = years.find((y) => !y.verified);
  $("year").value = String(firstBad ? firstBad.year : years[0].year);
  $("year").addEventListener("change", () => { $("cal-msg").textContent = ""; loadYear($("year").value); });
  $("cal-form").addEventListener("submit", save);
  $("add-holiday").addEventListener("click", () => $("holidays").appendChild(holidayRow({})));
  await loadYear($("year").value);
});
