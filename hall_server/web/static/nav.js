// The managers' navigation: one list for every manager page (add a page here, nowhere else).
"use strict";
const MANAGE_PAGES = [
  ["/dashboard", "看板", "Dashboard"],
  ["/manage/catalogue", "事项与办事指南", "Catalogue"],
  ["/manage/rules", "大厅规则", "Hall rules"],
  ["/manage/calendar", "节假日日历", "Calendar"],
  ["/bigscreen", "驾驶舱大屏", "Big screen"],
];

function renderManageNav() {
  const nav = document.getElementById("manage-nav");
  if (!nav) return;
  const here = location.pathname;
  const ul = document.createElement("ul");
  for (const [href, zh, en] of MANAGE_PAGES) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = zh;
    a.title = en;
    if (here === href) a.setAttribute("aria-current", "page");
    const li = document.createElement("li");
    li.appendChild(a);
    ul.appendChild(li);
  }
  nav.replaceChildren(ul);
}
document.addEventListener("DOMContentLoaded", renderManageNav);
