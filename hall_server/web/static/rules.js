// The hall rules page: opening hours with the lunch break, green channel, limits, notices, booking rules.
"use strict";
let rulesHall = null;
const intOrNull = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };

function fill(r) {
  const [am, pm] = [r.opening_hours[0] || ["", ""], r.opening_hours[1] || ["", ""]];
  $("am-start").value = am[0]; $("am-end").value = am[1]; $("pm-start").value = pm[0]; $("pm-end").value = pm[1];
  $("green-mode").value = r.green_mode; $("ratio-a").value = r.green_ratio[0]; $("ratio-b").value = r.green_ratio[1];
  $("recall-cap").value = r.recall_cap; $("per-person").value = r.per_person_daily_limit ?? ""; $("group-cap").value = r.daily_cap_per_group ?? "";
  $("notices").value = r.notices.join("\n");
  const b = r.settings.booking;
  $("b-min").value = b.min_days_ahead; $("b-max").value = b.max_working_days_ahead; $("b-per").value = b.per_person_per_day;
  $("b-slot").value = b.slot_minutes; $("b-cap").value = b.capacity; $("b-cancel").value = b.cancel_min_hours;
}

async function load(hall) {
  rulesHall = hall;
  $("rules-msg").textContent = "";
  fill(await api(`/halls/${encodeURIComponent(hall)}/rules`));
}

async function save(ev) {
  ev.preventDefault();
  const spans = [[$("am-start").value, $("am-end").value], [$("pm-start").value, $("pm-end").value]].filter(([a, b]) => a && b);
  const body = {
    opening_hours: spans, green_mode: $("green-mode").value, green_ratio: [Number($("ratio-a").value), Number($("ratio-b").value)],
    recall_cap: Number($("recall-cap").value), per_person_daily_limit: intOrNull("per-person"), daily_cap_per_group: intOrNull("group-cap"),
    notices: linesOf($("notices").value),
    settings: { booking: {
      min_days_ahead: Number($("b-min").value), max_working_days_ahead: Number($("b-max").value), per_person_per_day: Number($("b-per").value),
      slot_minutes: Number($("b-slot").value), capacity: Number($("b-cap").value), cancel_min_hours: Number($("b-cancel").value),
    } },
  };
  try {
    fill(await api(`/halls/${encodeURIComponent(rulesHall)}/rules`, { method: "PUT", body }));
    showSaved($("rules-msg"), `已保存 ${Manage.hallName(rulesHall)} 的规则，立即生效 / Saved, in force now`);
  } catch (e) { showError($("rules-msg"), e); }
}

$("rules-form").addEventListener("submit", save);
managePage(load);
