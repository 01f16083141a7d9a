// Small DOM helpers: elements, tables, bar and interval charts (inline SVG), empty and error states.

const SVG = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "style") Object.assign(node.style, value); // CSSOM: allowed by the page's CSP
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : String(child));
  return node;
}

export const fmt = {
  n: (x) => (x === null || x === undefined ? "unknown" : Number(x).toLocaleString("en")),
  pct: (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`),
  signed: (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`),
  num: (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits)),
  time: (epoch) => (epoch ? new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "–"),
};

export function fill(node, ...children) {
  // replaceChildren without the "null" text a skipped part would leave
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, h("strong", {}, "Error: "), error.message ?? String(error));
}

export function table(columns, rows, caption) {
  // columns: [[heading, row => cell]]
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

export function pager(index, hasNext, show) {
  // "Previous page / page n / Next page" for cursor-paged lists; show(i) draws page i
  return h("p", { class: "pager" },
    h("button", { type: "button", disabled: index === 0, onclick: () => show(index - 1) }, "Previous page"),
    ` page ${index + 1} `,
    h("button", { type: "button", disabled: !hasNext, onclick: () => show(index + 1) }, "Next page"));
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function bars(entries, { limit = 8, signed = true } = {}) {
  // entries: {name: weight}; negative weights draw to the left of the axis
  const rows = Object.entries(entries ?? {}).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, limit);
  if (!rows.length) return empty("nothing yet");
  const top = Math.max(...rows.map(([, v]) => Math.abs(v))) || 1;
  return h(
    "ul",
    { class: "bars" },
    rows.map(([name, value]) =>
      h(
        "li",
        {},
        h("span", { class: "bar-label" }, name),
        h("span", { class: "bar-track" }, h("span", {
          class: value < 0 && signed ? "bar negative" : "bar",
          style: { width: `${Math.max(2, (Math.abs(value) / top) * 100).toFixed(1)}%` },
          role: "img",
          "aria-label": `${name}: ${value.toFixed(3)}`,
        })),
        h("span", { class: "bar-value" }, value.toFixed(3)),
      ),
    ),
  );
}

export function columnChart(points, { label, height = 120 }) {
  // points: [{x label, y}] drawn as columns; the title says what they are
  const width = Math.max(300, points.length * 14);
  const top = Math.max(1, ...points.map((p) => p.y));
  const step = width / points.length;
  const columns = points.map((p, i) => {
    const tall = (p.y / top) * (height - 20);
    return svg("rect", { x: (i * step + 1).toFixed(1), y: (height - tall).toFixed(1), width: (step - 2).toFixed(1), height: tall.toFixed(1), class: "column" },
      svg("title", {}, `${p.x}: ${p.y}`));
  });
  const axis = points.length ? [
    svg("text", { x: 2, y: height + 14, class: "chart-note" }, points[0].x),
    svg("text", { x: width - 2, y: height + 14, class: "chart-note", "text-anchor": "end" }, points[points.length - 1].x),
  ] : [];
  return svg("svg", { viewBox: `0 0 ${width} ${height + 18}`, role: "img", "aria-label": label, class: "chart" },
    svg("text", { x: 2, y: 12, class: "chart-note" }, `max ${top}`), ...columns, ...axis);
}

export function intervalChart(rows, { label, asPercent = true }) {
  // rows: [{name, value, low, high}]: a point and its 95 % interval per row, on one shared axis
  const width = 520, rowHeight = 28, left = 110, right = 20;
  const lo = Math.min(0, ...rows.map((r) => r.low)), hi = Math.max(...rows.map((r) => r.high), lo + 1e-9);
  const x = (v) => left + ((v - lo) / (hi - lo)) * (width - left - right);
  const show = (v) => (asPercent ? `${(v * 100).toFixed(1)} %` : v.toFixed(2));
  const items = rows.flatMap((r, i) => {
    const y = 20 + i * rowHeight;
    return [
      svg("text", { x: 4, y: y + 4, class: "chart-label" }, r.name),
      svg("line", { x1: x(r.low), x2: x(r.high), y1: y, y2: y, class: "interval" }),
      svg("circle", { cx: x(r.value), cy: y, r: 4, class: "point" }, svg("title", {}, `${r.name}: ${show(r.value)} [${show(r.low)}, ${show(r.high)}]`)),
      svg("text", { x: Math.min(x(r.high) + 6, width - 60), y: y - 6, class: "chart-note" }, show(r.value)),
    ];
  });
  const height = 30 + rows.length * rowHeight;
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" },
    svg("line", { x1: x(0), x2: x(0), y1: 6, y2: height - 6, class: "axis" }), ...items);
}

export function form(fields, submitLabel, onSubmit) {
  // fields: [{name, label, type?, value?, options?, required?, list?}]; onSubmit gets {name: value}
  const node = h("form", { class: "inline-form" });
  for (const field of fields) {
    const id = `f-${field.name}-${Math.random().toString(36).slice(2, 8)}`;
    const control = field.options
      ? h("select", { id, name: field.name }, field.options.map((o) => h("option", { value: o, selected: o === field.value }, o)))
      : field.type === "textarea"
        ? h("textarea", { id, name: field.name, rows: field.rows ?? 6, required: field.required, spellcheck: "false" }, field.value ?? "")
        : h("input", { id, name: field.name, type: field.type ?? "text", value: field.value ?? "", required: field.required, list: field.list, step: field.step });
    node.append(h("label", { for: id }, field.label), control);
  }
  node.append(h("button", { type: "submit" }, submitLabel));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(node).entries());
    const button = node.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(values, node);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}
