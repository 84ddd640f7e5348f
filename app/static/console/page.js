/* The page's fixed parts (elements by id, the status line, the error box) and the table
 * builders the agreement and regrade views share. */
import { el } from "../shared.js";

export function $(id) { return document.getElementById(id); }

/* The polite status line (role="status"). */
export function say(message) { $("status").textContent = message; }
/* The error box (role="alert"). */
export function fail(err) { $("error").textContent = err && err.message ? err.message : String(err); }
export function clearError() { $("error").textContent = ""; }

export function table(caption, headings) {
  var t = el("table");
  t.append(el("caption", {}, caption));
  var head = el("tr");
  headings.forEach(function (h) { head.append(el("th", { scope: "col" }, h)); });
  var thead = el("thead");
  thead.append(head);
  t.append(thead, el("tbody"));
  return t;
}

/* A row of cells (strings, or nodes) at the end of the table's body. */
export function row(t, cells) {
  var tr = el("tr");
  cells.forEach(function (c) {
    var td = el("td");
    if (typeof c === "string") td.textContent = c; else td.append(c);
    tr.append(td);
  });
  t.tBodies[0].append(tr);
}
