/* Choosing the lesson and question at the top: the lists, the choice kept for the tab
 * (sessionStorage), and every section marked stale when the choice changes. */
import { el } from "../shared.js";
import { api } from "./api.js";
import { $, clearError, fail } from "./page.js";
import { question, scope, state } from "./state.js";
import { refreshTab } from "./tabs.js";

var SCOPE_STORE = "rubricate.scope";

function saveScope() {
  try { sessionStorage.setItem(SCOPE_STORE, JSON.stringify(scope())); } catch (e) { /* private mode */ }
}

function storedScope() {
  try { return JSON.parse(sessionStorage.getItem(SCOPE_STORE) || "{}"); } catch (e) { return {}; }
}

export async function loadLessons() {
  try {
    state.lessons = await api("/v1/lessons");
  } catch (err) {
    fail(err);
    return;
  }
  var select = $("lesson");
  select.replaceChildren();
  state.lessons.forEach(function (lesson) {
    select.append(el("option", { value: lesson.id }, lesson.title + " (" + lesson.id + ")"));
  });
  var stored = storedScope();
  if (stored.lesson && state.lessons.some(function (l) { return l.id === stored.lesson; })) {
    select.value = stored.lesson;
  }
  await loadLesson(stored.question);
}

var lessonLoads = 0; // a quick change of lesson: only the latest load may fill the form

/* The chosen lesson: its rubric when the teacher may read it, else the public lesson. */
export async function loadLesson(wanted) {
  var id = $("lesson").value;
  if (!id) return;
  var mine = ++lessonLoads;
  clearError();
  var lesson = null;
  try {
    lesson = await api("/v1/admin/lessons/" + encodeURIComponent(id));
  } catch (err) {
    if (mine === lessonLoads) fail(err);
    try { lesson = await api("/v1/lessons/" + encodeURIComponent(id)); } catch (e) { lesson = null; }
  }
  if (mine !== lessonLoads) return; // a later choice of lesson is being loaded
  state.lesson = lesson;
  var select = $("question");
  select.replaceChildren(el("option", { value: "" }, "All questions"));
  ((state.lesson && state.lesson.questions) || []).forEach(function (q) {
    var prompt = q.prompt.length > 70 ? q.prompt.slice(0, 69) + "…" : q.prompt;
    select.append(el("option", { value: q.id }, q.id + ": " + prompt));
  });
  if (wanted && question(wanted)) select.value = wanted;
  scopeChanged();
}

export function scopeChanged() {
  saveScope();
  var q = question(scope().question);
  $("prompt").textContent = q ? q.prompt : "";
  state.stale = { review: true, agreement: true, regrade: true };
  state.plan = null;
  refreshTab();
}
