// Tiny inline-SVG charts (bar chart, histogram) so the pages need no chart library or CDN.
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

// bars: [{label, value, color?}]; returns an <svg> element sized width x height.
function barChart(bars, opts = {}) {
  const width = opts.width || 420, height = opts.height || 160, pad = 24;
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.title || "" });
  const max = Math.max(1, ...bars.map(b => b.value || 0));
  const n = Math.max(1, bars.length);
  const bw = (width - pad * 2) / n;
  svg.appendChild(svgEl("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#999" }));
  bars.forEach((b, i) => {
    const h = ((b.value || 0) / max) * (height - pad * 2);
    const x = pad + i * bw + bw * 0.1;
    const rect = svgEl("rect", { x, y: height - pad - h, width: bw * 0.8, height: h, fill: b.color || "#1f5fae" });
    rect.appendChild(svgEl("title", {}, `${b.label}: ${b.value}`));
    svg.appendChild(rect);
    if (b.value) svg.appendChild(svgEl("text", { x: x + bw * 0.4, y: height - pad - h - 2, "text-anchor": "middle" }, String(b.value)));
    if (n <= 24 || i % 2 === 0) svg.appendChild(svgEl("text", { x: x + bw * 0.4, y: height - pad + 12, "text-anchor": "middle" }, b.label));
  });
  svg.appendChild(svgEl("text", { x: pad, y: 12 }, opts.title || ""));
  return svg;
}
