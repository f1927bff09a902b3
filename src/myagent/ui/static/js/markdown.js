// A small Markdown subset rendered to DOM nodes (never to HTML strings): paragraphs and line breaks,
// headings, bullet and numbered lists, tables, block quotes, rules, fenced code, `code`, **bold**,
// *italic* and http(s) links.

import { h } from "./dom.js";

const LIST_ITEM = /^\s*(?:[-*+•]|\d+[.)])\s+/;
const FENCE = /^\s*```/;
const HEADING = /^(#{1,4})\s+(.*)$/;
const RULE = /^\s*(?:-{3,}|\*{3,}|_{3,})\s*$/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$/;
const QUOTE = /^\s*>\s?/;

export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  const startsBlock = (line) =>
    FENCE.test(line) || HEADING.test(line) || LIST_ITEM.test(line) || RULE.test(line) || QUOTE.test(line) || TABLE_ROW.test(line);
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    if (FENCE.test(line)) {
      const code = [];
      i += 1;
      while (i < lines.length && !FENCE.test(lines[i])) code.push(lines[i++]);
      i += 1; // the closing fence (or the end, while still streaming)
      fragment.append(h("pre", { class: "md-code" }, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      fragment.append(inline(h(`h${Math.min(6, heading[1].length + 2)}`, { class: "md-h" }), heading[2]));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      fragment.append(h("hr", { class: "md-rule" }));
      i += 1;
      continue;
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const align = cells(lines[i + 1]).map((cell) => (cell.endsWith(":") ? "right" : cell.startsWith(":") ? "left" : ""));
      const head = h("tr", {}, cells(line).map((cell, index) => inline(h("th", { class: align[index] ? `align-${align[index]}` : null }), cell)));
      const body = h("tbody");
      i += 2;
      while (i < lines.length && TABLE_ROW.test(lines[i])) {
        body.append(h("tr", {}, cells(lines[i]).map((cell, index) => inline(h("td", { class: align[index] ? `align-${align[index]}` : null }), cell))));
        i += 1;
      }
      fragment.append(h("div", { class: "md-table" }, h("table", {}, h("thead", {}, head), body)));
      continue;
    }
    if (QUOTE.test(line)) {
      const quote = h("blockquote", { class: "md-quote" });
      let first = true;
      while (i < lines.length && QUOTE.test(lines[i])) {
        if (!first) quote.append(h("br"));
        inline(quote, lines[i].replace(QUOTE, ""));
        first = false;
        i += 1;
      }
      fragment.append(quote);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const ordered = /^\s*\d+[.)]\s+/.test(line);
      const list = h(ordered ? "ol" : "ul", { class: "md-list" });
      while (i < lines.length && LIST_ITEM.test(lines[i])) {
        const item = inline(h("li"), lines[i].replace(LIST_ITEM, ""));
        list.append(item);
        i += 1;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !LIST_ITEM.test(lines[i])) {
          item.append(h("br"));
          inline(item, lines[i].trim());
          i += 1;
        }
      }
      fragment.append(list);
      continue;
    }
    const paragraph = h("p");
    let first = true;
    while (i < lines.length && lines[i].trim() && (first || !startsBlock(lines[i]))) {
      if (!first) paragraph.append(h("br"));
      inline(paragraph, lines[i]);
      first = false;
      i += 1;
    }
    fragment.append(paragraph);
  }
  return fragment;
}

function cells(row) {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((cell) => cell.trim());
}

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\[[^\]\n]+\]\(https?:\/\/[^)\s]+\))|((?<![*\w])\*[^*\s][^*\n]*\*(?![*\w]))/g;

function inline(parent, text) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parent.append(text.slice(last, match.index));
    const token = match[0];
    if (match[1]) parent.append(h("code", { class: "md-inline" }, token.slice(1, -1)));
    else if (match[2]) parent.append(h("strong", {}, token.slice(2, -2)));
    else if (match[3]) {
      const [, label, href] = token.match(/^\[([^\]]+)\]\(([^)]+)\)$/);
      parent.append(h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label));
    } else parent.append(h("em", {}, token.slice(1, -1)));
    last = match.index + token.length;
  }
  if (last < text.length) parent.append(text.slice(last));
  return parent;
}
