/* The selected answer on the right: the AI's grade, the answer with each key point's
 * evidence highlighted, a verdict per key point, misconceptions, a comment, and the
 * decision buttons. It edits state.draft; what a decision does is the review flow's. */
import { el, STATUS_TEXT } from "../shared.js";
import { num, pct, plural, slug, snippet } from "./format.js";
import { $, say } from "./page.js";
import { currentAnswer, currentGroup } from "./review-queue.js";
import { keyPointText, question, scope, state } from "./state.js";

var STATUSES = ["met", "partial", "missing"];
var COLORS = 6;

export function renderEmpty() {
  var detail = $("detail");
  detail.removeAttribute("data-grade-id");
  detail.replaceChildren(el("h2", { id: "detail-heading", tabindex: "-1" }, "Nothing to review"));
  var s = scope();
  detail.append(el("p", {}, "No answers are waiting for review for " +
    (s.question ? "question " + s.question : "this lesson") + ". Answers graded through the API, " +
    "the widget or your LMS appear here."));
}

/* on.decide(kind, label): a decision button; on.pick(i): another answer of the group. */
export function renderDetail(on) {
  var group = currentGroup(), answer = currentAnswer();
  var grade = state.grades[answer.grade_id];
  var draft = state.draft;
  var q = question(group.question_id);
  var detail = $("detail");
  detail.replaceChildren();
  detail.setAttribute("data-grade-id", answer.grade_id);

  detail.append(el("h2", { id: "detail-heading", tabindex: "-1" },
    "Group " + (state.g + 1) + " of " + state.groups.length + ": " +
    plural(group.size, "answer") + " to " + group.question_id));
  if (q) detail.append(el("p", { class: "prompt" }, q.prompt));

  var ai = el("p", { class: "ai" });
  ai.append(el("strong", {}, "AI grade: "), el("span", { class: "badge label-" + slug(answer.label) }, answer.label),
    document.createTextNode(" · " + num(answer.score) + " of " + num(answer.max_score) +
      " · confidence " + pct(answer.confidence)));
  if (grade) ai.append(document.createTextNode(" · graded by " + grade.graded_by));
  detail.append(ai);
  if (answer.needs_review) {
    detail.append(el("p", { class: "flagged" }, "Flagged for review: " +
      (answer.review_reasons.join("; ") || "the graders were unsure") + "."));
  }
  if (answer.outdated) detail.append(el("p", { class: "flagged" }, "Graded with an older rubric or older examples."));

  if (group.answers.length > 1) {
    var others = el("div", { class: "answers", role: "group", "aria-label": "Answers in this group" });
    others.append(el("p", { class: "small" }, "Answers in this group (n/p to move):"));
    var list = el("ol");
    group.answers.forEach(function (a, i) {
      var b = el("button", { type: "button", class: "answer-pick", "aria-current": i === state.a ? "true" : null },
        (a.student_id || "anonymous") + ": " + snippet(a.answer, 60));
      b.addEventListener("click", function () { on.pick(i); });
      list.append(el("li"));
      list.lastChild.append(b);
    });
    others.append(list);
    detail.append(others);
  }

  var kps = grade ? grade.key_points : Object.keys(group.key_points).map(function (k) {
    return { id: k, text: keyPointText(k), status: group.key_points[k], evidence: null };
  });
  detail.append(el("h3", { id: "answer-heading" }, "Answer of " + (answer.student_id || "an anonymous student")));
  var quote = el("blockquote", { class: "answer", "aria-labelledby": "answer-heading" });
  quote.append(highlighted(answer.answer, kps));
  detail.append(quote);

  var form = el("form", { id: "review-form", class: "review-form" });
  form.addEventListener("submit", function (event) { event.preventDefault(); on.decide("keypoints"); });
  var kpSet = el("fieldset", { class: "kps" });
  kpSet.append(el("legend", {}, "Key points: keep the AI's verdict or change it"));
  kps.forEach(function (kp, i) { kpSet.append(keyPointField(kp, i, draft)); });
  form.append(kpSet);

  var rubric = q && q.misconceptions ? q.misconceptions : (grade ? grade.misconceptions : []);
  if (rubric.length) {
    var held = grade ? new Set(grade.misconceptions.map(function (m) { return m.id; })) : new Set(group.misconceptions);
    var misSet = el("fieldset", { class: "misconceptions" });
    misSet.append(el("legend", {}, "Misconceptions the answer holds"));
    rubric.forEach(function (m) {
      var id = "mis-" + m.id;
      var box = el("input", { type: "checkbox", id: id, value: m.id });
      box.checked = draft.misconceptions.has(m.id);
      box.addEventListener("change", function () {
        draft.misTouched = true;
        if (box.checked) draft.misconceptions.add(m.id); else draft.misconceptions.delete(m.id);
      });
      var label = el("label", { for: id }, m.text);
      if (held.has(m.id)) label.append(aiTag());
      var row = el("div", { class: "check" });
      row.append(box, label);
      misSet.append(row);
    });
    form.append(misSet);
  }

  var commentId = "comment";
  form.append(el("label", { for: commentId, class: "block" }, "Comment for the student (optional)"));
  var comment = el("textarea", { id: commentId, rows: "2", "aria-keyshortcuts": "c" });
  comment.value = draft.comment;
  comment.addEventListener("input", function () { draft.comment = comment.value; });
  form.append(comment);

  if (group.size > 1) {
    var whole = el("input", { type: "checkbox", id: "whole-group", "aria-keyshortcuts": "w" });
    whole.checked = draft.whole;
    whole.addEventListener("change", function () { draft.whole = whole.checked; });
    var wrap = el("div", { class: "check whole" });
    wrap.append(whole, el("label", { for: "whole-group" }, "Apply to the whole group (" + plural(group.size, "answer") + ")"));
    form.append(wrap);
  }

  var actions = el("div", { class: "actions", role: "group", "aria-label": "Decision" });
  actions.append(
    actionButton("Accept the AI's grade", "a", "accept", function () { on.decide("accept"); }),
    actionButton("Correct", "1", "label-correct", function () { on.decide("label", "correct"); }),
    actionButton("Partially correct", "2", "label-partially-correct", function () { on.decide("label", "partially correct"); }),
    actionButton("Incorrect", "3", "label-incorrect", function () { on.decide("label", "incorrect"); }),
    actionButton("Save the key points", "s", "save", function () { on.decide("keypoints"); })
  );
  form.append(actions);
  detail.append(form);
}

function aiTag() {
  var tag = el("span", { class: "ai-tag" });
  tag.append(el("span", { class: "vh" }, " (the AI's verdict)"), el("span", { "aria-hidden": "true" }, "AI"));
  return tag;
}

function actionButton(text, key, kind, onClick) {
  var b = el("button", { type: "button", class: "act " + kind, "aria-keyshortcuts": key }, text);
  b.append(el("kbd", { "aria-hidden": "true" }, key));
  b.addEventListener("click", onClick);
  return b;
}

/* One key point: its text, the student's words for it, and met / partly met / missing. */
function keyPointField(kp, i, draft) {
  var color = "kp-" + (i % COLORS);
  var set = el("fieldset", { class: "kp " + color, "data-kp": String(i) });
  var legend = el("legend");
  legend.append(el("span", { class: "num", "aria-hidden": "true" }, String(i + 1)), document.createTextNode(kp.text));
  set.append(legend);
  var evidence = el("p", { class: "evidence" });
  if (kp.evidence) {
    evidence.append(document.createTextNode("The student's words: "), el("q", {}, kp.evidence.text));
  } else {
    evidence.textContent = "No words in the answer were found for this key point.";
  }
  set.append(evidence);
  var choices = el("div", { class: "choices" });
  STATUSES.forEach(function (status) {
    var id = "kp-" + i + "-" + status;
    var input = el("input", { type: "radio", id: id, name: "kp-" + i, value: status });
    input.checked = draft.key_points[kp.id] === status;
    input.addEventListener("change", function () {
      draft.key_points[kp.id] = status;
      draft.touched[kp.id] = true;
      say(kp.text.replace(/[.!?]+$/, "") + ": " + STATUS_TEXT[status] + " (not saved yet).");
    });
    var label = el("label", { for: id, class: "choice " + status });
    label.append(el("span", {}, STATUS_TEXT[status]));
    if (kp.status === status) label.append(aiTag());
    var wrap = el("span", { class: "choice-wrap" });
    wrap.append(input, label);
    choices.append(wrap);
  });
  set.append(choices);
  var on = function () { markActive(i, true); }, off = function () { markActive(i, false); };
  set.addEventListener("focusin", on);
  set.addEventListener("focusout", off);
  set.addEventListener("mouseenter", on);
  set.addEventListener("mouseleave", off);
  return set;
}

/* Lights up key point i's evidence in the answer while its field has focus or the mouse. */
function markActive(i, on) {
  Array.prototype.forEach.call(document.querySelectorAll(".answer mark"), function (m) {
    if ((m.getAttribute("data-kp") || "").split(" ").indexOf(String(i)) >= 0) m.classList.toggle("active", on);
  });
}

/* The answer with each key point's evidence marked in its colour and numbered. */
function highlighted(answer, kps) {
  var spans = [];
  kps.forEach(function (kp, i) {
    var ev = kp.evidence;
    if (!ev) return;
    var start = ev.start, end = ev.end;
    if (answer.slice(start, end) !== ev.text) {
      start = answer.indexOf(ev.text);
      end = start + ev.text.length;
    }
    if (start >= 0 && end > start) spans.push({ i: i, start: start, end: end });
  });
  var cuts = [0, answer.length];
  spans.forEach(function (s) { cuts.push(s.start, s.end); });
  cuts = Array.from(new Set(cuts)).sort(function (x, y) { return x - y; });
  var out = document.createDocumentFragment();
  for (var c = 0; c + 1 < cuts.length; c++) {
    var a = cuts[c], b = cuts[c + 1], text = answer.slice(a, b);
    var over = spans.filter(function (s) { return s.start <= a && s.end >= b; });
    if (!over.length) { out.append(document.createTextNode(text)); continue; }
    var ids = over.map(function (s) { return s.i; });
    var mark = el("mark", {
      class: "kp-" + (ids[0] % COLORS) + (ids.length > 1 ? " over kp-over-" + (ids[1] % COLORS) : ""),
      "data-kp": ids.join(" "),
      title: "Key point " + ids.map(function (i) { return i + 1; }).join(", "),
    }, text);
    out.append(mark);
    var ending = over.filter(function (s) { return s.end === b; });
    ending.forEach(function (s) {
      out.append(el("sup", { class: "tag kp-" + (s.i % COLORS), "aria-hidden": "true" }, String(s.i + 1)));
    });
  }
  return out;
}
