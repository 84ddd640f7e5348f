/* rubricate teacher console: a thin client of the HTTP API, served at /teacher. This is
 * its entry module (teacher.html loads it with <script type="module">); it wires the page's
 * controls to the sections:
 *
 *   review.js, review-queue.js, grade-detail.js, shortcuts.js  the review queue (similar
 *       answers grouped, most useful first; evidence highlighted per key point; one decision
 *       for a whole group)
 *   agreement.js   agreement between the AI and the teacher
 *   regrade.js     regrading (dry run, then apply)
 *   batches.js     class files (upload, progress, report)
 *   scope.js, tabs.js, state.js  the lesson and question chosen, the tabs, what is held
 *   api.js, page.js, format.js, ../shared.js  requests, the page's parts, formatting
 */
import { apiKey, storeApiKey } from "./api.js";
import { loadAgreement } from "./agreement.js";
import { upload } from "./batches.js";
import { $, clearError, say } from "./page.js";
import { regrade } from "./regrade.js";
import { loadQueue } from "./review.js";
import { loadLesson, loadLessons, scopeChanged } from "./scope.js";
import { shortcuts } from "./shortcuts.js";
import { state, TABS } from "./state.js";
import { showTab, tabKeys } from "./tabs.js";

function start() {
  var key = $("api-key");
  key.value = apiKey();
  $("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    storeApiKey(key.value.trim());
    clearError();
    say(key.value.trim() ? "Using the API key for this tab." : "No API key: teacher requests go without one.");
    state.grades = {};
    if (state.lessons.length) loadLesson($("question").value); else loadLessons();
  });
  $("api-key-forget").addEventListener("click", function () {
    key.value = "";
    storeApiKey("");
    say("The API key is forgotten.");
  });
  $("lesson").addEventListener("change", function () { loadLesson(""); });
  $("question").addEventListener("change", scopeChanged);
  $("scope").addEventListener("submit", function (event) { event.preventDefault(); });
  TABS.forEach(function (t) {
    var tab = $("tab-" + t);
    tab.addEventListener("click", function () { showTab(t, false); });
    tab.addEventListener("keydown", tabKeys);
  });
  $("queue-refresh").addEventListener("click", function () { clearError(); loadQueue(); });
  $("agreement-refresh").addEventListener("click", function () { clearError(); loadAgreement(); });
  $("regrade-dry").addEventListener("click", function () { regrade(false); });
  $("upload-form").addEventListener("submit", upload);
  document.addEventListener("keydown", shortcuts);
  var wanted = location.hash.replace("#", "");
  if (TABS.indexOf(wanted) >= 0) showTab(wanted, false);
  loadLessons();
}

// A module runs once the document is parsed (like a deferred script).
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
