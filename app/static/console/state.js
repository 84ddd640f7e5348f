/* What the console holds between requests, and the lesson and question chosen at the top. */
import { $ } from "./page.js";

export var TABS = ["review", "agreement", "regrade", "upload"];

export var state = {
  lessons: [],
  lesson: null, // the rubric (admin view) or, without access, the public lesson
  tab: "review",
  stale: { review: true, agreement: true, regrade: true },
  groups: [],
  waiting: 0,
  g: 0, // selected group
  a: 0, // selected answer in the group
  grades: {}, // grade_id -> GradeResult
  draft: null,
  busy: false,
  reviewed: 0,
  plan: null,
  batch: null,
  poll: null,
};

/* The lesson and question chosen in the form at the top ("" for all questions). */
export function scope() {
  return { lesson: $("lesson").value, question: $("question").value };
}

/* The query string for the chosen scope: lesson_id, question_id when one, and extra. */
export function scopeQuery(extra) {
  var s = scope();
  var params = new URLSearchParams({ lesson_id: s.lesson });
  if (s.question) params.set("question_id", s.question);
  Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
  return params.toString();
}

/* A question of the loaded lesson, or null. */
export function question(id) {
  var questions = (state.lesson && state.lesson.questions) || [];
  return questions.find(function (q) { return q.id === id; }) || null;
}

/* A key point's (or choice's) text in the loaded lesson; its id when not found. */
export function keyPointText(id) {
  var questions = (state.lesson && state.lesson.questions) || [];
  for (var i = 0; i < questions.length; i++) {
    var items = (questions[i].key_points || []).concat(questions[i].choices || []);
    var found = items.find(function (k) { return k.id === id; });
    if (found) return found.text || found.prompt || id;
  }
  return id;
}
