// The managers' pages, one line each: the dashboard and every page under /manage render this list.
// Another page is added with one line here (and its route in api/web.py MANAGE_PAGES).
"use strict";
const MANAGE_PAGES = [
  { href: "/dashboard", zh: "看板", en: "Dashboard" },
  { href: "/manage/staff", zh: "人员", en: "Staff" },
  { href: "/manage/roster", zh: "排班", en: "Roster" },
  { href: "/manage/devices", zh: "设备", en: "Devices" },
  { href: "/manage/catalogue", zh: "事项与指南", en: "Catalogue" },
  { href: "/manage/rules", zh: "大厅规则", en: "Hall rules" },
  { href: "/manage/calendar", zh: "节假日日历", en: "Calendar" },
  { href: "/bigscreen", zh: "驾驶舱", en: "Big screen" },
];

function renderManageNav() {
  const nav = document.getElementById("manage-nav");
  if (!nav) return;
  const here = location.pathname;
  const list = document.createElement("ul");
  for (const p of MANAGE_PAGES) {
    const a = document.createElement("a");
    a.href = p.href;
    a.textContent = p.zh;
    a.title = p.en;
    if (here === p.href) { a.className = "active"; a.setAttribute("aria-current", "page"); }
    const li = document.createElement("li");
    li.appendChild(a);
    list.appendChild(li);
  }
  nav.replaceChildren(list);
}
document.addEventListener("DOMContentLoaded", renderManageNav);
