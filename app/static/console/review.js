/* The review flow: load the queue, select an answer (fetching its grade), move with j/k/n/p,
 * and send one decision for the answer shown or for its whole group. */
import { api } from "./api.js";
import { plural } from "./format.js";
import { renderDetail, renderEmpty } from "./grade-detail.js";
import { $, clearError, fail, say } from "./page.js";
import { currentAnswer, currentGroup, dropReviewed, markCurrentGroup, renderQueue } from "./review-queue.js";
import { scopeQuery, state } from "./state.js";

/* What the detail view's buttons do. */
var detailActions = {
  decide: decide,
  pick: function (i) { keepComment(); selectAnswer(state.g, i, true); },
};

function pickGroup(gi) { selectAnswer(gi, 0, true); }

export async function loadQueue() {
  state.stale.review = false;
  var keep = currentAnswer();
  $("queue-count").textContent = "Loading…";
  try {
    var queue = await api("/v1/review?" + scopeQuery({ limit: 200 }));
  } catch (err) {
    $("queue-count").textContent = "";
    fail(err);
    return;
  }
  state.groups = queue.groups;
  state.waiting = queue.waiting;
  state.g = 0;
  state.a = 0;
  if (keep) {
    state.groups.forEach(function (g, gi) {
      g.answers.forEach(function (a, ai) {
        if (a.grade_id === keep.grade_id) { state.g = gi; state.a = ai; }
      });
    });
  }
  renderQueue(pickGroup);
  await selectAnswer(state.g, state.a, false);
}

async function selectAnswer(gi, ai, focus) {
  state.g = Math.max(0, Math.min(gi, state.groups.length - 1));
  var group = currentGroup();
  state.a = group ? Math.max(0, Math.min(ai, group.answers.length - 1)) : 0;
  markCurrentGroup();
  var answer = currentAnswer();
  if (!answer) { renderEmpty(); if (focus) $("detail-heading").focus(); return; }
  var id = answer.grade_id;
  if (!state.grades[id]) {
    try {
      state.grades[id] = await api("/v1/grades/" + encodeURIComponent(id));
    } catch (err) {
      fail(err);
    }
  }
  if (currentAnswer() !== answer) return; // moved on while loading
  state.draft = newDraft(group, state.grades[id]);
  renderDetail(detailActions);
  if (focus) $("detail-heading").focus();
}

/* The teacher's unsaved decision, starting from the AI's verdicts; the comment and the
 * whole-group choice carry over when moving within the group. */
function newDraft(group, grade) {
  var kps = {};
  Object.keys(group.key_points).forEach(function (k) { kps[k] = group.key_points[k]; });
  var keep = state.draft && state.draft.keepComment;
  return {
    key_points: kps,
    touched: {},
    misconceptions: new Set(grade ? grade.misconceptions.map(function (m) { return m.id; }) : group.misconceptions),
    misTouched: false,
    comment: keep ? state.draft.comment : "",
    whole: keep ? state.draft.whole : true,
  };
}

function keepComment() { if (state.draft) state.draft.keepComment = true; }

/* One decision: for the answer shown, or for its whole group.
 * kind: "accept" (the AI's grade), "label" (with label) or "keypoints". */
export async function decide(kind, label) {
  var group = currentGroup(), answer = currentAnswer(), draft = state.draft;
  if (!group || !answer || !draft || state.busy) return;
  var whole = group.size > 1 && draft.whole;
  var targets = whole ? group.answers : [answer];
  var review = {};
  if (draft.comment.trim()) review.comment = draft.comment.trim();
  if (draft.misTouched || kind === "accept") review.misconceptions = Array.from(draft.misconceptions);
  if (kind === "label") {
    review.label = label;
    var touched = {};
    Object.keys(draft.touched).forEach(function (k) { touched[k] = draft.key_points[k]; });
    if (Object.keys(touched).length) review.key_points = touched;
  } else if (kind === "keypoints") {
    review.key_points = Object.assign({}, draft.key_points);
  } else {
    review.key_points = Object.assign({}, group.key_points);
  }
  state.busy = true;
  clearError();
  $("detail").setAttribute("aria-busy", "true");
  say("Saving…");
  var results = [];
  try {
    if (kind === "accept") {
      // The AI's own grade, kept per answer: its label and its score.
      for (var i = 0; i < targets.length; i++) {
        var one = Object.assign({}, review, { label: targets[i].label, score: targets[i].score });
        results.push(await api("/v1/grades/" + encodeURIComponent(targets[i].grade_id) + "/review",
          { method: "PUT", json: one }));
      }
    } else if (targets.length > 1) {
      results = await api("/v1/reviews", {
        method: "POST", json: { grade_ids: targets.map(function (t) { return t.grade_id; }), review: review },
      });
    } else {
      results.push(await api("/v1/grades/" + encodeURIComponent(answer.grade_id) + "/review",
        { method: "PUT", json: review }));
    }
  } catch (err) {
    fail(err);
    say("");
    if (results.length) done(group, results);
    return;
  } finally {
    state.busy = false;
    $("detail").removeAttribute("aria-busy");
  }
  done(group, results);
}

/* After a decision is saved: out of the queue, on to the next answer, said aloud. */
function done(group, results) {
  dropReviewed(group, results);
  state.stale.agreement = true;
  state.stale.regrade = true;
  state.plan = null;
  var gi = state.g;
  var labels = Array.from(new Set(results.map(function (r) { return r.label; })));
  var message = "Saved: " + plural(results.length, "answer") + " graded " + labels.join(" / ") +
    " by you (" + state.reviewed + " this session).";
  renderQueue(pickGroup);
  state.draft = null;
  selectAnswer(gi, 0, true).then(function () {
    var next = currentGroup();
    say(message + (next ? " Now group " + (state.g + 1) + " of " + state.groups.length + "." : " The queue is empty."));
  });
}

/* dg groups or da answers in the group forward (1) or back (-1). */
export function move(dg, da) {
  if (!state.groups.length) return;
  if (dg) {
    var gi = state.g + dg;
    if (gi < 0 || gi >= state.groups.length) { say(dg > 0 ? "This is the last group." : "This is the first group."); return; }
    selectAnswer(gi, 0, true).then(announce);
  } else {
    var ai = state.a + da, group = currentGroup();
    if (ai < 0 || ai >= group.answers.length) { say("No more answers in this group."); return; }
    keepComment();
    selectAnswer(state.g, ai, true).then(announce);
  }
}

function announce() {
  var group = currentGroup(), answer = currentAnswer();
  if (!group || !answer) return;
  say("Group " + (state.g + 1) + " of " + state.groups.length + ", answer " + (state.a + 1) + " of " +
    group.answers.length + ": AI says " + answer.label + ".");
}
