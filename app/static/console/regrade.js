/* Regrade: grade the chosen question's answers again with the current rubric and the
 * teacher's reviews; a dry run shows what would change, then the teacher applies it. */
import { el } from "../shared.js";
import { api } from "./api.js";
import { num, plural, slug } from "./format.js";
import { $, clearError, fail, row, say, table } from "./page.js";
import { scope, state } from "./state.js";

export function renderRegrade() {
  state.stale.regrade = false;
  var s = scope();
  var button = $("regrade-dry");
  button.disabled = !s.question;
  var body = $("regrade-body");
  body.replaceChildren();
  if (!s.question) {
    body.append(el("p", {}, "Choose a question above to regrade its answers."));
    return;
  }
  if (state.plan) renderPlan(state.plan);
}

/* A dry run (apply false) or the real thing. */
export async function regrade(apply) {
  var s = scope();
  if (!s.question || state.busy) return;
  clearError();
  state.busy = true;
  var body = $("regrade-body");
  body.setAttribute("aria-busy", "true");
  say(apply ? "Applying the changes…" : "Regrading as a dry run…");
  var path = "/v1/questions/" + encodeURIComponent(s.lesson) + "/" + encodeURIComponent(s.question) + "/regrade";
  try {
    state.plan = await api(path + (apply ? "?apply=true" : ""), { method: "POST" });
  } catch (err) {
    fail(err);
    say("");
    return;
  } finally {
    state.busy = false;
    body.removeAttribute("aria-busy");
  }
  renderPlan(state.plan);
  var n = state.plan.changes.length;
  if (apply) {
    state.stale.review = true;
    state.grades = {};
    say("Applied: " + plural(n, "grade") + " changed.");
  } else {
    say("Dry run: " + (n ? plural(n, "grade") + " would change." : "nothing would change."));
  }
}

function renderPlan(plan) {
  var body = $("regrade-body");
  body.replaceChildren();
  var n = plan.changes.length;
  var verb = plan.applied ? "changed" : "would change";
  body.append(el("p", { id: "regrade-summary", class: "summary" }, (plan.applied ? "Applied. " : "Dry run. ") +
    "Considered " + plural(plan.considered, "answer") + ": " + plan.unchanged + " unchanged, " + n + " " + verb + "."));
  if (!n) return;
  var t = table(plan.applied ? "What changed" : "What would change", ["Student", "Answer", "Before", "After"]);
  plan.changes.forEach(function (c) {
    var after = el("span", { class: "after label-" + slug(c.after_label) },
      c.after_label + ", " + num(c.after_score));
    var answer = el("span", {}, c.answer);
    if (c.outdated) answer.append(el("span", { class: "flag" }, " (outdated)"));
    row(t, [c.student_id || "–", answer, c.before_label + ", " + num(c.before_score), after]);
  });
  body.append(t);
  if (!plan.applied) {
    var apply = el("button", { type: "button", id: "regrade-apply", class: "primary" },
      "Apply " + plural(n, "change"));
    apply.addEventListener("click", function () { regrade(true); });
    body.append(el("p"));
    body.lastChild.append(apply);
  }
}
