// Small helpers shared by the pages: JSON calls with the bearer token and zh_CN error text.
"use strict";
const API = "/api/v1";

function authToken() { return sessionStorage.getItem("hall_token") || ""; }

async function api(path, opts = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
  const token = authToken();
  if (token && !opts.noAuth) headers["Authorization"] = "Bearer " + token;
  // A file (a staff photo) goes as its raw bytes with its own type; anything else as JSON.
  if (opts.body !== undefined && typeof opts.body !== "string" && !(opts.body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  const res = await fetch(API + path, Object.assign({}, opts, { headers }));
  if (res.status === 204) return null;
  const isJson = (res.headers.get("content-type") || "").includes("json");
  const data = isJson ? await res.json() : await res.text();
  if (!res.ok) {
    const e = (data && data.error) || { code: "http." + res.status, message: "请求失败（" + res.status + "）", message_en: String(res.status) };
    const err = new Error(e.message + (e.message_en ? " / " + e.message_en : ""));
    err.code = e.code; err.status = res.status; err.body = e;
    // An expired or revoked session: forget it and let the page send the user back to log in.
    if (res.status === 401 && token && !opts.noAuth) {
      sessionStorage.removeItem("hall_token");
      window.dispatchEvent(new CustomEvent("hall-session-ended", { detail: e }));
    }
    throw err;
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
function mins(sec) { return sec === null || sec === undefined ? "—" : (sec / 60).toFixed(1) + " 分钟"; }
function hhmm(iso) { if (!iso) return "—"; const d = new Date(iso); return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" }); }
function todayIso() { const d = new Date(); return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
// Chinese first, then English marked as English (screen readers switch voice; GB/T 37668).
// An API error as nodes: the server's Chinese message, its English one marked lang="en".
function errorNodes(e) {
  return e.body && e.body.message ? bilingual(e.body.message, e.body.message_en ? "/ " + e.body.message_en : "") : [e.message];
}

function bilingual(zh, en) {
  const out = [];
  if (zh) out.push(document.createTextNode(zh));
  if (en) out.push(document.createTextNode(zh ? " " : ""), el("span", { lang: "en" }, en));
  return out;
}
