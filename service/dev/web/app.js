/* Card preview page. Plain JS, no build step, no third-party code.
 * Cards come from the REAL hook endpoint: this script POSTs the CDS Hooks request to
 * /cds-services/axspa-therapy-switch and renders the response as an EHR would. */
"use strict";

const HOOK_URL = "/cds-services/axspa-therapy-switch";
const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
const SEVERITY = { critical: 0, warning: 1, info: 2 };

const state = { cases: [], catalog: [], request: null, caseId: null };
const $ = (id) => document.getElementById(id);

/* ------------------------------------------------------------------ safe markdown (escape first, then tags) */
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

/* Markdown backslash escapes and HTML entities mean literal characters (as in GFM): the service writes record
 * text into details as `&lt;` or `\[`, so decode them, then escape everything again before adding tags. */
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };
function literal(text) {
  return escapeHtml(String(text)
    .replace(/\\([\\`*_{}\[\]()#+\-.!|])/g, "$1")
    .replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]));
}

function safeUrl(url) {
  const trimmed = String(url).trim();
  return /^(https?:|mailto:)/i.test(trimmed) ? trimmed : null;
}

function emphasis(escaped) {
  return escaped
    .replace(/\*\*(?=\S)(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*(?=\S)([^*]+?)\*(?!\*)/g, "$1<em>$2</em>");
}

function inlineNoCode(text) {
  const link = /(?<!\\)\[([^\]]+)\]\(([^)\s]+)\)/g;
  let out = "";
  let last = 0;
  let m;
  while ((m = link.exec(text)) !== null) {
    out += emphasis(literal(text.slice(last, m.index)));
    const url = safeUrl(m[2]);
    const label = emphasis(literal(m[1]));
    out += url ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label}</a>` : label;
    last = link.lastIndex;
  }
  return out + emphasis(literal(text.slice(last)));
}

function inline(text) {
  return String(text)
    .split(/(`[^`]*`)/)
    .map((part) => (part.length > 1 && part.startsWith("`") && part.endsWith("`")
      ? `<code>${escapeHtml(part.slice(1, -1))}</code>` : inlineNoCode(part)))
    .join("");
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

const RE = {
  heading: /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/,
  tableSep: /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/,
  ul: /^\s*[-*+]\s+(.*)$/,
  ol: /^\s*\d+[.)]\s+(.*)$/,
  hr: /^\s*([-*_])(\s*\1){2,}\s*$/,
  fence: /^\s*```/,
};

function isBlockStart(lines, i) {
  const line = lines[i];
  return RE.heading.test(line) || RE.ul.test(line) || RE.ol.test(line) || RE.hr.test(line) || RE.fence.test(line) ||
    (line.includes("|") && i + 1 < lines.length && RE.tableSep.test(lines[i + 1]));
}

/** A small GitHub-flavoured-markdown subset: headings, paragraphs, bold/italic, code, links, lists, tables.
 *  Every piece of text is HTML-escaped before any tag is added, so card content can never inject markup. */
function renderMarkdown(markdown) {
  const lines = String(markdown || "").replace(/\r\n?/g, "\n").split("\n");
  const html = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i += 1; continue; }
    let m;
    if (RE.fence.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !RE.fence.test(lines[i])) { body.push(lines[i]); i += 1; }
      i += 1;
      html.push(`<pre><code>${escapeHtml(body.join("\n"))}</code></pre>`);
    } else if ((m = RE.heading.exec(line))) {
      const level = Math.min(6, m[1].length + 2); // card headings sit below the page's own
      html.push(`<h${level}>${inline(m[2])}</h${level}>`);
      i += 1;
    } else if (RE.hr.test(line)) {
      html.push("<hr>");
      i += 1;
    } else if (line.includes("|") && i + 1 < lines.length && RE.tableSep.test(lines[i + 1])) {
      const head = splitRow(line);
      i += 2;
      const rows = [];
      while (i < lines.length && lines[i].trim() && lines[i].includes("|")) { rows.push(splitRow(lines[i])); i += 1; }
      const th = head.map((c) => `<th>${inline(c)}</th>`).join("");
      const tb = rows.map((r) => `<tr>${head.map((_, k) => `<td>${inline(r[k] || "")}</td>`).join("")}</tr>`).join("");
      html.push(`<table><thead><tr>${th}</tr></thead><tbody>${tb}</tbody></table>`);
    } else if (RE.ul.test(line) || RE.ol.test(line)) {
      const ordered = !RE.ul.test(line);
      const re = ordered ? RE.ol : RE.ul;
      const items = [];
      while (i < lines.length && lines[i].trim()) {
        const item = re.exec(lines[i]);
        if (item) items.push(item[1]);
        else if (/^\s+\S/.test(lines[i]) && items.length) items[items.length - 1] += " " + lines[i].trim();
        else break;
        i += 1;
      }
      const tag = ordered ? "ol" : "ul";
      html.push(`<${tag}>${items.map((it) => `<li>${inline(it)}</li>`).join("")}</${tag}>`);
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() && (para.length === 0 || !isBlockStart(lines, i))) {
        para.push(lines[i].trim());
        i += 1;
      }
      html.push(`<p>${inline(para.join(" "))}</p>`);
    }
  }
  return html.join("\n");
}

/* ------------------------------------------------------------------ helpers */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function showError(message) {
  const box = $("input-error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function getJson(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { response, body };
}

function draftOrders(request) {
  const entries = (((request || {}).context || {}).draftOrders || {}).entry || [];
  return entries.map((e) => (e || {}).resource || {}).filter((r) => r.resourceType === "MedicationRequest" || r.resourceType === "MedicationOrder");
}

function orderText(resource) {
  const concept = resource.medicationCodeableConcept || {};
  return concept.text || ((concept.coding || [])[0] || {}).display || resource.id || "order";
}

function outcomeText(body) {
  if (body && body.resourceType === "OperationOutcome") {
    return (body.issue || []).map((i) => i.diagnostics || i.code).filter(Boolean).join("; ");
  }
  return body && body.error ? String(body.error) : "";
}

/* ------------------------------------------------------------------ input side */
function fillOrders() {
  const select = $("order-select");
  select.replaceChildren();
  const drafts = draftOrders(state.request);
  const own = el("optgroup", { label: "Draft order(s) in this record" });
  for (const d of drafts) own.append(el("option", { value: `draft:${d.id}`, text: orderText(d) }));
  select.append(own);
  if (state.catalog.length) {
    const other = el("optgroup", { label: "…or order instead" });
    for (const drug of state.catalog) other.append(el("option", { value: `catalog:${drug.key}`, text: `${drug.text} (${drug.class})` }));
    select.append(other);
  }
  select.disabled = drafts.length === 0 && state.catalog.length === 0;
  $("evaluate").disabled = select.disabled;
  const hook = (state.request && state.request.hook) || "order-select";
  $("evaluate").textContent = `Evaluate (${hook})`;
}

function showPatient(request, caseInfo) {
  const banner = $("patient-banner");
  const patient = ((request || {}).prefetch || {}).patient;
  const name = patient && (patient.name || [])[0];
  const who = name ? [...(name.given || []), name.family].filter(Boolean).join(" ") : ((request || {}).context || {}).patientId;
  const parts = [`Patient: ${who || "unknown"}`];
  if (patient && patient.gender) parts.push(patient.gender);
  if (patient && patient.birthDate) parts.push(`born ${patient.birthDate}`);
  banner.replaceChildren(el("strong", { text: parts.join(" · ") }));
  if (caseInfo && caseInfo.expected && caseInfo.expected.cards) {
    const exp = caseInfo.expected;
    const ind = exp.indicator ? ` · expected indicator: ${[].concat(exp.indicator).join(" or ")}` : "";
    banner.append(el("div", { className: "hint", text: `Fixture expects ${exp.cards.min}–${exp.cards.max} card(s)${ind}` }));
  }
  banner.hidden = false;
}

async function chooseCase(caseId) {
  showError("");
  state.caseId = caseId;
  const info = state.cases.find((c) => c.id === caseId);
  $("case-description").textContent = info ? info.description : "";
  if (!info) { state.request = null; fillOrders(); return; }
  const { response, body } = await getJson(`/preview/cases/${info.id}`);
  if (!response.ok) { showError(`Could not load ${info.id}: HTTP ${response.status}`); return; }
  state.request = body;
  showPatient(body, info);
  fillOrders();
}

async function usePasted() {
  showError("");
  let document_;
  try { document_ = JSON.parse($("paste-text").value); } catch (e) { showError(`Not JSON: ${e.message}`); return; }
  const { response, body } = await getJson("/preview/request", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ document: document_ }),
  });
  if (!response.ok) { showError(outcomeText(body) || `HTTP ${response.status}`); return; }
  state.caseId = null;
  state.request = body.request;
  $("case-select").value = "";
  $("case-description").textContent = "Pasted JSON";
  showPatient(body.request, null);
  fillOrders();
}

function buildRequest() {
  const request = JSON.parse(JSON.stringify(state.request));
  request.hookInstance = uuid();
  const context = request.context;
  const choice = $("order-select").value || "";
  if (choice.startsWith("catalog:")) {
    const drug = state.catalog.find((d) => `catalog:${d.key}` === choice);
    const order = {
      resourceType: "MedicationRequest", id: "preview-order", status: "draft", intent: "order",
      medicationCodeableConcept: { text: drug.text },
      subject: { reference: `Patient/${context.patientId}` },
      authoredOn: new Date().toISOString().slice(0, 10),
    };
    if (drug.rxnorm) order.medicationCodeableConcept.coding = [{ system: drug.system || RXNORM, code: drug.rxnorm, display: drug.name }];
    context.draftOrders = { resourceType: "Bundle", type: "collection", entry: [{ resource: order }] };
    if (request.hook !== "order-sign") context.selections = ["MedicationRequest/preview-order"];
  } else if (choice.startsWith("draft:") && request.hook !== "order-sign") {
    context.selections = [`MedicationRequest/${choice.slice(6)}`];
  }
  return request;
}

/* ------------------------------------------------------------------ cards */
function describeActions(suggestion) {
  return (suggestion.actions || []).map((a) => {
    if (a.type === "delete") return `remove ${a.resourceId}`;
    const r = a.resource || {};
    const what = r.resourceType === "MedicationRequest" ? orderText(r) : r.resourceType || "resource";
    return `${a.type} ${what}`;
  }).join("; ");
}

function renderCard(card) {
  const indicator = ["info", "warning", "critical"].includes(card.indicator) ? card.indicator : "info";
  const node = el("article", { className: `card ${indicator}`, "data-testid": "card", "data-indicator": indicator });
  node.append(el("div", { className: "card-head" },
    el("span", { className: "indicator", text: indicator }),
    el("div", { className: "summary", "data-testid": "card-summary", text: card.summary || "" })));
  const source = card.source || {};
  const sourceLine = el("div", { className: "source" }, document.createTextNode(`Source: ${source.label || "?"}`));
  const sourceUrl = source.url && safeUrl(source.url);
  if (sourceUrl) {
    sourceLine.append(" · ", el("a", { href: sourceUrl, target: "_blank", rel: "noopener noreferrer", text: "reference" }));
  }
  node.append(sourceLine);
  if (card.detail) {
    const detail = el("div", { className: "detail", "data-testid": "card-detail" });
    detail.innerHTML = renderMarkdown(card.detail); // safe: renderMarkdown escapes all text first
    node.append(detail);
  }
  if ((card.suggestions || []).length) {
    const box = el("div", { className: "suggestions", role: "group", "aria-label": "Suggestions" });
    const note = el("div", { className: "suggestion-note", "aria-live": "polite" });
    for (const suggestion of card.suggestions) {
      const recommended = suggestion.isRecommended === true;
      const button = el("button", {
        type: "button",
        className: `suggestion${recommended ? " recommended" : ""}`,
        "data-testid": "suggestion",
        "data-recommended": recommended ? "true" : "false",
        title: describeActions(suggestion),
      });
      if (recommended) button.append(el("span", { className: "star", "aria-hidden": "true", text: "★" }), "Recommended: ");
      button.append(suggestion.label);
      button.addEventListener("click", () => {
        const wasChosen = button.classList.contains("chosen");
        if (card.selectionBehavior !== "any") box.querySelectorAll(".suggestion").forEach((b) => b.classList.remove("chosen"));
        button.classList.toggle("chosen", !wasChosen);
        note.textContent = wasChosen ? "" : `Accepting would: ${describeActions(suggestion) || "no change"}. (Preview only: nothing is written.)`;
      });
      box.append(button);
    }
    box.append(note);
    node.append(box);
  }
  const links = (card.links || []).map((link) => {
    const url = safeUrl(link.url);
    if (!url) return null;
    const label = link.type === "smart" ? `${link.label} (SMART app)` : link.label;
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label });
  }).filter(Boolean);
  if (links.length) node.append(el("div", { className: "links" }, ...links));
  if ((card.overrideReasons || []).length) {
    node.append(el("div", { className: "override", text: `Override reasons: ${card.overrideReasons.map((r) => r.display).join(" · ")}` }));
  }
  return node;
}

function renderCards(body) {
  const cards = [...((body && body.cards) || [])].sort((a, b) => (SEVERITY[a.indicator] ?? 3) - (SEVERITY[b.indicator] ?? 3));
  const box = $("cards");
  box.replaceChildren(...(cards.length ? cards.map(renderCard)
    : [el("p", { className: "empty", "data-testid": "no-cards", text: "No cards: the service has nothing to say about this order." })]));
  $("card-count").textContent = `(${cards.length})`;
  $("raw-json").textContent = JSON.stringify(body, null, 2);
  $("raw-box").hidden = false;
}

async function evaluate() {
  showError("");
  if (!state.request) return;
  const request = buildRequest();
  const button = $("evaluate");
  button.disabled = true;
  document.body.dataset.state = "evaluating";
  const started = performance.now();
  try {
    const { response, body } = await getJson(HOOK_URL, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(request),
    });
    const ms = Math.round(performance.now() - started);
    if (response.status === 401) {
      showError("The service requires a CDS Hooks JWT (production mode). This preview works against a development-mode service (CDS_ALLOW_UNAUTHENTICATED=true).");
    } else if (!response.ok) {
      showError(`HTTP ${response.status}: ${outcomeText(body) || "error"}`);
    } else {
      renderCards(body);
      $("timing").textContent = `${body.cards.length} card(s) in ${ms} ms`;
    }
  } catch (e) {
    showError(`Request failed: ${e.message}`);
  } finally {
    button.disabled = false;
    document.body.dataset.state = "done";
  }
}

/* ------------------------------------------------------------------ start */
async function start() {
  $("case-select").addEventListener("change", (e) => chooseCase(e.target.value));
  $("paste-load").addEventListener("click", usePasted);
  $("evaluate").addEventListener("click", evaluate);
  fetch("/cds-services").then((r) => {
    $("service-status").textContent = r.ok ? "service: ready (development mode)" : `service: discovery HTTP ${r.status}`;
  }).catch(() => { $("service-status").textContent = "service: unreachable"; });
  const { response, body } = await getJson("/preview/cases");
  const select = $("case-select");
  select.replaceChildren(el("option", { value: "", text: response.ok ? "— choose a fixture patient —" : "fixtures unavailable" }));
  if (!response.ok || !body) return;
  state.cases = body.cases || [];
  state.catalog = body.catalog || [];
  const groups = new Map();
  for (const c of state.cases) {
    if (!groups.has(c.rule)) groups.set(c.rule, el("optgroup", { label: c.rule }));
    groups.get(c.rule).append(el("option", { value: c.id, text: c.name }));
  }
  select.append(...groups.values());
  document.body.dataset.state = "ready";
}

window.renderMarkdown = renderMarkdown; // exposed for tests
document.addEventListener("DOMContentLoaded", start);
