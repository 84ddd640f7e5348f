/* Agreement: how often the AI's grade matched the teacher's on the reviewed answers (with
 * 95% bootstrap intervals), per key point, and the answers where the labels differ. */
import { el } from "../shared.js";
import { api } from "./api.js";
import { fixed, pct, plural } from "./format.js";
import { $, fail, row, table } from "./page.js";
import { keyPointText, scopeQuery, state } from "./state.js";

export async function loadAgreement() {
  state.stale.agreement = false;
  var body = $("agreement-body");
  body.setAttribute("aria-busy", "true");
  try {
    var data = await api("/v1/agreement?" + scopeQuery());
  } catch (err) {
    body.removeAttribute("aria-busy");
    fail(err);
    return;
  }
  body.removeAttribute("aria-busy");
  $("agreement-heading").textContent = "Agreement on " + plural(data.reviewed, "reviewed answer");
  body.replaceChildren();
  if (!data.reviewed) {
    body.append(el("p", {}, "No reviewed answers yet: review some in the queue first."));
    return;
  }
  var figures = el("dl", { class: "figures" });
  [
    ["Reviewed answers", String(data.reviewed), null],
    ["Label accuracy", pct(data.accuracy.value), data.accuracy, pct],
    ["Quadratic weighted kappa", fixed(data.quadratic_kappa.value), data.quadratic_kappa, fixed],
    ["Mean absolute error", pct(data.mean_absolute_error.value) + " of full marks", data.mean_absolute_error, pct],
  ].forEach(function (row) {
    var box = el("div", { class: "figure" });
    var dd = el("dd", {}, row[1]);
    if (row[2] && row[2].low !== null) {
      dd.append(el("span", { class: "interval" }, " (95% interval " + row[3](row[2].low) + " to " + row[3](row[2].high) + ")"));
    }
    box.append(el("dt", {}, row[0]), dd);
    figures.append(box);
  });
  body.append(figures);

  if (data.key_points.length) {
    var kpTable = table("Per key point: how often the AI's verdict matched yours",
      ["Key point", "Reviewed", "Agreement"]);
    data.key_points.forEach(function (k) {
      row(kpTable, [keyPointText(k.key_point), String(k.reviewed), pct(k.agreement)]);
    });
    body.append(kpTable);
  }
  if (!data.disagreements.length) {
    body.append(el("p", {}, "The AI's label matched yours on every reviewed answer."));
    return;
  }
  var dis = table("Answers where the AI's label differs from yours",
    ["Question", "Answer", "AI", "You", "History"]);
  data.disagreements.forEach(function (d) {
    var answerCell = el("span", { class: "muted" }, "…");
    var link = el("a", { href: d.url, target: "_blank", rel: "noopener" }, "history");
    link.append(el("span", { class: "vh" }, " of grade " + d.grade_id));
    row(dis, [d.question_id, answerCell,
      d.ai_label + " (" + pct(d.ai_percent) + ")", d.teacher_label + " (" + pct(d.teacher_percent) + ")", link]);
    api("/v1/grades/" + encodeURIComponent(d.grade_id) + "/history").then(function (h) {
      answerCell.className = "";
      answerCell.textContent = h.answer;
    }, function () { answerCell.textContent = "(not available)"; });
  });
  body.append(dis);
}
