// The public guide page (the guide slip's QR code): every field of the guide, as the hall shows it.
"use strict";
const FACTS = [
  ["code", "事项编码"], ["department", "实施部门"], ["category", "事项类别"], ["legal_basis", "设定依据"],
  ["conditions", "受理条件"], ["fee", "收费标准"], ["time_limit_days", "法定时限（工作日）"], ["promise_days", "承诺时限（工作日）"],
  ["forms", "申请表格"], ["location", "办理地点"], ["consult_phone", "咨询电话"], ["complaint_phone", "投诉电话"],
  ["online_url", "网上办理"], ["id_required", "取号须刷身份证"], ["daily_cap", "每日限号"], ["notes", "备注"],
];

function materialText(m) {
  const parts = [];
  if (m.originals) parts.push(`原件${m.originals}份`);
  if (m.copies) parts.push(`复印件${m.copies}份`);
  return m.name + (parts.length ? `（${parts.join("、")}）` : "") + (m.note ? `（${m.note}）` : "");
}

async function show() {
  const code = decodeURIComponent(location.pathname.split("/").pop());
  const q = new URLSearchParams(location.search);
  const params = new URLSearchParams();
  if (q.get("hall")) params.set("hall", q.get("hall"));
  if (q.get("at")) params.set("at", q.get("at"));
  try {
    const s = await api(`/services/${encodeURIComponent(code)}?${params}`, { noAuth: true });
    const g = Object.assign({ code: s.code, department: s.department, category: s.category }, s.guide);
    document.getElementById("g-title").textContent = s.name;
    document.getElementById("g-version").textContent = s.version ? `第 ${s.version} 版（${s.valid_from.slice(0, 10)} 起施行）` : "";
    const facts = [];
    for (const [key, label] of FACTS) {
      let v = g[key];
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
      if (typeof v === "boolean") v = v ? "是" : "否";
      if (Array.isArray(v)) v = v.join("；");
      facts.push(el("dt", {}, label), el("dd", {}, String(v)));
    }
    document.getElementById("g-facts").replaceChildren(...facts);
    document.getElementById("g-materials").replaceChildren(...(g.materials || []).map((m) => el("li", {}, materialText(m))));
    document.getElementById("g-steps").replaceChildren(...(g.steps || []).map((st) => el("li", {}, st)));
  } catch (e) {
    document.getElementById("g-title").textContent = e.message;
  }
}
show();
