/* The review queue on the left: groups of similar answers waiting for the teacher, most
 * useful first, and which group and answer are selected (state.g, state.a). */
import { el } from "../shared.js";
import { plural, slug, snippet } from "./format.js";
import { $ } from "./page.js";
import { state } from "./state.js";

export function currentGroup() { return state.groups[state.g] || null; }
export function currentAnswer() {
  var group = currentGroup();
  return group ? group.answers[state.a] || null : null;
}

/* The list of groups; pick(gi) when one is clicked. */
export function renderQueue(pick) {
  var list = $("queue-list");
  list.replaceChildren();
  $("queue-count").textContent = state.groups.length
    ? plural(state.waiting, "answer") + " waiting, in " + plural(state.groups.length, "group") + "."
    : "Nothing waiting for review.";
  state.groups.forEach(function (group, gi) {
    var first = group.answers[0];
    var button = el("button", { type: "button", class: "group label-" + slug(group.label), "aria-current": gi === state.g ? "true" : null });
    var top = el("span", { class: "group-top" });
    top.append(el("span", { class: "badge" }, group.label), document.createTextNode(
      " " + group.question_id + " · " + plural(group.size, "answer")));
    if (group.answers.some(function (a) { return a.needs_review; })) top.append(el("span", { class: "flag" }, " · flagged"));
    if (group.answers.some(function (a) { return a.outdated; })) top.append(el("span", { class: "flag" }, " · outdated"));
    button.append(top, el("span", { class: "snippet" }, snippet(first.answer, 90)));
    button.addEventListener("click", function () { pick(gi); });
    list.append(el("li"));
    list.lastChild.append(button);
  });
}

/* aria-current on the selected group's button only. */
export function markCurrentGroup() {
  Array.prototype.forEach.call($("queue-list").querySelectorAll("button.group"), function (b, i) {
    if (i === state.g) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  });
}

/* Takes the reviewed answers (results: the saved grades) out of the group, and the group
 * out of the queue when it is empty. */
export function dropReviewed(group, results) {
  var ids = new Set(results.map(function (r) { return r.grade_id; }));
  results.forEach(function (r) { state.grades[r.grade_id] = r; });
  group.answers = group.answers.filter(function (a) { return !ids.has(a.grade_id); });
  group.grade_ids = group.answers.map(function (a) { return a.grade_id; });
  group.size = group.answers.length;
  state.waiting -= results.length;
  state.reviewed += results.length;
  if (!group.size) state.groups.splice(state.g, 1);
}
