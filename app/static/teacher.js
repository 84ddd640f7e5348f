/* rubricate teacher console: a thin client of the HTTP API, served at /teacher.
 *
 * Sections: the review queue (similar answers grouped, most useful first; evidence
 * highlighted per key point; one decision for a whole group), agreement between the AI and
 * the teacher, regrading (dry run, then apply) and class files (upload, progress, report).
 * Teacher endpoints answer loopback clients without a key; elsewhere the API key typed at
 * the top is kept in sessionStorage and sent as "Authorization: Bearer <key>".
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var API = script && script.src ? new URL(".", script.src).href.replace(/\/$/, "") : "";
  var KEY_STORE = "rubricate.apiKey";
  var SCOPE_STORE = "rubricate.scope";
  var STATUS_TEXT = { met: "Met", partial: "Partly met", missing: "Missing" };
  var STATUSES = ["met", "partial", "missing"];
  var LABELS = ["correct", "partially correct", "incorrect"];
  var TABS = ["review", "agreement", "regrade", "upload"];
  var FINISHED = ["done", "cancelled", "failed"];
  var COLORS = 6;

  var state = {
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

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many || one + "s"); }
  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
  function num(x) { return String(Math.round(x * 100) / 100); }

  /* ---- talking to the API ---------------------------------------------------------- */

  function apiKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function problem(response) {
    var detail = "";
    try {
      var body = await response.json();
      detail = body.detail || body.title || "";
      if (response.status === 429) {
        var wait = response.headers.get("Retry-After") || body.retry_after || "a few";
        detail = "Too many requests right now; wait " + wait + " seconds and try again.";
      }
    } catch (e) { /* not JSON */ }
    detail = detail || "The service answered " + response.status + ".";
    if (response.status === 401 || response.status === 403) {
      detail += " Enter a teacher API key in the field at the top of the page.";
    }
    return detail;
  }

  async function api(path, options) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {});
    var key = apiKey();
    if (key) headers.Authorization = "Bearer " + key;
    var body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    var response;
    try {
      response = await fetch(API + path, { method: options.method || "GET", headers: headers, body: body });
    } catch (e) {
      throw new ApiError("The rubricate service can't be reached. Check that it is running, then try again.", 0);
    }
    if (!response.ok) throw new ApiError(await problem(response), response.status);
    return options.raw ? response : response.json();
  }

  function say(message) { $("status").textContent = message; }
  function fail(err) { $("error").textContent = err && err.message ? err.message : String(err); }
  function clearError() { $("error").textContent = ""; }

  /* ---- lesson and question --------------------------------------------------------- */

  function scope() {
    return { lesson: $("lesson").value, question: $("question").value };
  }

  function scopeQuery(extra) {
    var s = scope();
    var params = new URLSearchParams({ lesson_id: s.lesson });
    if (s.question) params.set("question_id", s.question);
    Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
    return params.toString();
  }

  function question(id) {
    var questions = (state.lesson && state.lesson.questions) || [];
    return questions.find(function (q) { return q.id === id; }) || null;
  }

  function keyPointText(id) {
    var questions = (state.lesson && state.lesson.questions) || [];
    for (var i = 0; i < questions.length; i++) {
      var items = (questions[i].key_points || []).concat(questions[i].choices || []);
      var found = items.find(function (k) { return k.id === id; });
      if (found) return found.text || found.prompt || id;
    }
    return id;
  }

  function saveScope() {
    try { sessionStorage.setItem(SCOPE_STORE, JSON.stringify(scope())); } catch (e) { /* private mode */ }
  }

  function storedScope() {
    try { return JSON.parse(sessionStorage.getItem(SCOPE_STORE) || "{}"); } catch (e) { return {}; }
  }

  async function loadLessons() {
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

  async function loadLesson(wanted) {
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

  function scopeChanged() {
    saveScope();
    var q = question(scope().question);
    $("prompt").textContent = q ? q.prompt : "";
    state.stale = { review: true, agreement: true, regrade: true };
    state.plan = null;
    refreshTab();
  }

  /* ---- tabs ------------------------------------------------------------------------ */

  function showTab(name, focus) {
    state.tab = name;
    TABS.forEach(function (t) {
      var tab = $("tab-" + t), on = t === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      $("panel-" + t).hidden = !on;
    });
    if (focus) $("tab-" + name).focus();
    if (history.replaceState) history.replaceState(null, "", "#" + name);
    refreshTab();
  }

  function refreshTab() {
    if (!state.lesson) return;
    if (state.tab === "review" && state.stale.review) loadQueue();
    if (state.tab === "agreement" && state.stale.agreement) loadAgreement();
    if (state.tab === "regrade" && state.stale.regrade) renderRegrade();
  }

  function tabKeys(event) {
    var i = TABS.indexOf(event.target.id.replace("tab-", ""));
    var next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    showTab(TABS[(next + TABS.length) % TABS.length], true);
  }

  /* ---- the review queue ------------------------------------------------------------ */

  async function loadQueue() {
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
    renderQueue();
    await selectAnswer(state.g, state.a, false);
  }

  function currentGroup() { return state.groups[state.g] || null; }
  function currentAnswer() {
    var group = currentGroup();
    return group ? group.answers[state.a] || null : null;
  }

  function renderQueue() {
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
      button.addEventListener("click", function () { selectAnswer(gi, 0, true); });
      list.append(el("li"));
      list.lastChild.append(button);
    });
  }

  function slug(text) { return String(text).replace(/\s+/g, "-"); }
  function snippet(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  async function selectAnswer(gi, ai, focus) {
    state.g = Math.max(0, Math.min(gi, state.groups.length - 1));
    var group = currentGroup();
    state.a = group ? Math.max(0, Math.min(ai, group.answers.length - 1)) : 0;
    Array.prototype.forEach.call($("queue-list").querySelectorAll("button.group"), function (b, i) {
      if (i === state.g) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
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
    renderDetail();
    if (focus) $("detail-heading").focus();
  }

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

  function renderEmpty() {
    var detail = $("detail");
    detail.removeAttribute("data-grade-id");
    detail.replaceChildren(el("h2", { id: "detail-heading", tabindex: "-1" }, "Nothing to review"));
    var s = scope();
    detail.append(el("p", {}, "No answers are waiting for review for " +
      (s.question ? "question " + s.question : "this lesson") + ". Answers graded through the API, " +
      "the widget or your LMS appear here."));
  }

  function renderDetail() {
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
        b.addEventListener("click", function () { keepComment(); selectAnswer(state.g, i, true); });
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
    form.addEventListener("submit", function (event) { event.preventDefault(); decide("keypoints"); });
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
      actionButton("Accept the AI's grade", "a", "accept", function () { decide("accept"); }),
      actionButton("Correct", "1", "label-correct", function () { decide("label", "correct"); }),
      actionButton("Partially correct", "2", "label-partially-correct", function () { decide("label", "partially correct"); }),
      actionButton("Incorrect", "3", "label-incorrect", function () { decide("label", "incorrect"); }),
      actionButton("Save the key points", "s", "save", function () { decide("keypoints"); })
    );
    form.append(actions);
    detail.append(form);
  }

  function keepComment() { if (state.draft) state.draft.keepComment = true; }

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

  /* One decision: for the answer shown, or for its whole group. */
  async function decide(kind, label) {
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

  function done(group, results) {
    var ids = new Set(results.map(function (r) { return r.grade_id; }));
    results.forEach(function (r) { state.grades[r.grade_id] = r; });
    group.answers = group.answers.filter(function (a) { return !ids.has(a.grade_id); });
    group.grade_ids = group.answers.map(function (a) { return a.grade_id; });
    group.size = group.answers.length;
    state.waiting -= results.length;
    state.reviewed += results.length;
    state.stale.agreement = true;
    state.stale.regrade = true;
    state.plan = null;
    var gi = state.g;
    if (!group.size) state.groups.splice(gi, 1);
    var labels = Array.from(new Set(results.map(function (r) { return r.label; })));
    var message = "Saved: " + plural(results.length, "answer") + " graded " + labels.join(" / ") +
      " by you (" + state.reviewed + " this session).";
    renderQueue();
    state.draft = null;
    selectAnswer(gi, 0, true).then(function () {
      var next = currentGroup();
      say(message + (next ? " Now group " + (state.g + 1) + " of " + state.groups.length + "." : " The queue is empty."));
    });
  }

  function move(dg, da) {
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

  function typing(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    return tag === "input" && ["radio", "checkbox", "button", "submit"].indexOf(target.type) < 0;
  }

  function shortcuts(event) {
    if (state.tab !== "review" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && event.target.id === "comment") {
      event.preventDefault();
      $("detail-heading").focus();
      return;
    }
    if (typing(event.target)) return;
    var decision = { a: ["accept"], 1: ["label", "correct"], 2: ["label", "partially correct"], 3: ["label", "incorrect"], s: ["keypoints"] }[event.key];
    if (decision) {
      event.preventDefault();
      if (!event.repeat) decide(decision[0], decision[1]);
      return;
    }
    var action = {
      j: function () { move(1, 0); },
      k: function () { move(-1, 0); },
      n: function () { move(0, 1); },
      p: function () { move(0, -1); },
      r: function () { clearError(); loadQueue(); },
      c: function () { var c = $("comment"); if (c) c.focus(); },
      w: function () {
        var box = $("whole-group");
        if (!box) { say("This group has one answer."); return; }
        box.checked = !box.checked;
        state.draft.whole = box.checked;
        say(box.checked ? "The decision applies to the whole group." : "The decision applies to this answer only.");
      },
    }[event.key];
    if (action) { event.preventDefault(); action(); }
  }

  /* ---- agreement ------------------------------------------------------------------- */

  async function loadAgreement() {
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

  function fixed(x) { return x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toFixed(2); }

  function table(caption, headings) {
    var t = el("table");
    t.append(el("caption", {}, caption));
    var head = el("tr");
    headings.forEach(function (h) { head.append(el("th", { scope: "col" }, h)); });
    var thead = el("thead");
    thead.append(head);
    t.append(thead, el("tbody"));
    return t;
  }

  function row(t, cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      var td = el("td");
      if (typeof c === "string") td.textContent = c; else td.append(c);
      tr.append(td);
    });
    t.tBodies[0].append(tr);
  }

  /* ---- regrade --------------------------------------------------------------------- */

  function renderRegrade() {
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

  async function regrade(apply) {
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

  /* ---- class files ----------------------------------------------------------------- */

  async function upload(event) {
    event.preventDefault();
    var file = $("upload-file").files[0];
    clearError();
    if (!file) { fail("Choose a class file first."); $("upload-file").focus(); return; }
    var jsonl = /\.jsonl?$/i.test(file.name);
    $("upload-submit").disabled = true;
    say("Uploading " + file.name + "…");
    try {
      var info = await api("/v1/batches?filename=" + encodeURIComponent(file.name), {
        method: "POST", body: file, headers: { "Content-Type": jsonl ? "application/x-ndjson" : "text/csv" },
      });
    } catch (err) {
      fail(err);
      say("");
      return;
    } finally {
      $("upload-submit").disabled = false;
    }
    state.batch = info;
    say("Uploaded " + file.name + ": grading " + plural(info.progress.total, "row") + ".");
    renderBatch(info);
    followBatch(info.id);
  }

  function followBatch(id) {
    clearTimeout(state.poll);
    var tick = async function () {
      if (!state.batch || state.batch.id !== id) return;
      try {
        var info = await api("/v1/batches/" + encodeURIComponent(id));
      } catch (err) {
        fail(err);
        state.poll = setTimeout(tick, 3000);
        return;
      }
      state.batch = info;
      renderBatch(info);
      if (FINISHED.indexOf(info.status) >= 0) {
        var p = info.progress;
        state.stale.review = true;
        say("Batch " + info.status + ": " + p.done + " of " + p.total + " graded" +
          (p.failed ? ", " + p.failed + " failed" : "") + "." + (info.status === "done" ? " The class report is ready." : ""));
        return;
      }
      state.poll = setTimeout(tick, 700);
    };
    state.poll = setTimeout(tick, 300);
  }

  function renderBatch(info) {
    var p = info.progress;
    $("batch").hidden = false;
    $("batch-heading").textContent = "Batch " + (info.filename || info.id) + ": " + info.status;
    var bar = $("batch-progress");
    bar.max = Math.max(p.total, 1);
    bar.value = p.done + p.failed;
    $("batch-count").textContent = p.done + " of " + p.total + " graded" + (p.failed ? ", " + p.failed + " failed" : "");
    var text = [];
    if (info.rate_per_s) text.push(num(info.rate_per_s) + " rows a second");
    if (info.eta_s && FINISHED.indexOf(info.status) < 0) text.push("about " + Math.ceil(info.eta_s) + " s left");
    if (info.unique_answers) text.push(plural(info.unique_answers, "distinct answer"));
    $("batch-text").textContent = text.join(" · ");
    var actions = $("batch-actions");
    actions.replaceChildren();
    var base = "/v1/batches/" + encodeURIComponent(info.id);
    if (FINISHED.indexOf(info.status) < 0) {
      var cancel = el("button", { type: "button" }, "Cancel the batch");
      cancel.addEventListener("click", async function () {
        try { renderBatch(await api(base, { method: "DELETE" })); } catch (err) { fail(err); }
      });
      actions.append(cancel);
      return;
    }
    actions.append(
      fileLink("Open the class report", base + "/report?format=html", "class-report-" + info.id + ".html"),
      document.createTextNode(" "),
      fileLink("Download the results (CSV)", base + "/results?format=csv", "results-" + info.id + ".csv", true)
    );
  }

  /* A link to a teacher-only file: plain with no key; with a key, fetched with it and saved. */
  function fileLink(text, path, name, download) {
    var link = el("a", { href: API + path, class: "button-link", target: download ? null : "_blank", rel: "noopener" }, text);
    if (download) link.setAttribute("download", name);
    link.addEventListener("click", async function (event) {
      if (!apiKey()) return;
      event.preventDefault();
      try {
        var response = await api(path, { raw: true });
        var url = URL.createObjectURL(await response.blob());
        var a = el("a", { href: url, download: name });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
        say("Saved " + name + ".");
      } catch (err) {
        fail(err);
      }
    });
    return link;
  }

  /* ---- start ----------------------------------------------------------------------- */

  function start() {
    var key = $("api-key");
    key.value = apiKey();
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      try {
        if (key.value.trim()) sessionStorage.setItem(KEY_STORE, key.value.trim());
        else sessionStorage.removeItem(KEY_STORE);
      } catch (e) { /* private mode */ }
      clearError();
      say(key.value.trim() ? "Using the API key for this tab." : "No API key: teacher requests go without one.");
      state.grades = {};
      if (state.lessons.length) loadLesson($("question").value); else loadLessons();
    });
    $("api-key-forget").addEventListener("click", function () {
      key.value = "";
      try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* private mode */ }
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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
