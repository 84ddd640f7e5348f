/* The <rubricate-question> element: the question widget, as an ES module.
 *
 * Pages do not load this module themselves: they load the classic script /widget.js (the
 * embed snippet), which imports this module from the same place and calls define() with the
 * service's URL. See widget.js for the attributes.
 */
import { el, problemMessage, STATUS_TEXT } from "./shared.js";

var DEFAULT_API = "";
var counter = 0;

var CSS = [
  ":host{display:block;font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;max-width:46rem}",
  ".card{border:1px solid #c9c9c9;border-radius:8px;padding:1rem 1.25rem;background:#fff}",
  "h2{font-size:1.1rem;margin:0 0 .5rem}",
  "label{display:block;font-weight:600;margin:.75rem 0 .25rem}",
  "textarea{width:100%;box-sizing:border-box;min-height:7rem;font:inherit;padding:.5rem;",
  "border:1px solid #767676;border-radius:4px}",
  "button{margin-top:.5rem;font:inherit;padding:.4rem 1rem;border-radius:4px;",
  "border:1px solid #0b5cad;background:#0b5cad;color:#fff;cursor:pointer}",
  "button[disabled]{opacity:.6;cursor:progress}",
  ":focus-visible{outline:3px solid #f5a623;outline-offset:2px}",
  ".status{min-height:1.5rem;margin-top:.5rem}",
  ".error{color:#a4000f;font-weight:600}",
  ".result h3{font-size:1rem;margin:1rem 0 .25rem}",
  ".result ul{padding-left:0;list-style:none}",
  ".result li{margin:.5rem 0;padding:.5rem .75rem;border-left:5px solid #999;background:#f6f6f6}",
  ".result li.met{border-color:#1a7f37}.result li.partial{border-color:#b08800}",
  ".result li.missing{border-color:#a4000f}",
  ".badge{font-weight:700}.evidence{font-style:italic;color:#444}",
].join("");

class RubricateQuestion extends HTMLElement {
  connectedCallback() {
    if (this._ready) return;
    this._ready = true;
    var id = "rq" + ++counter;
    var root = this.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent = CSS;
    var card = el("section", { class: "card", "aria-labelledby": id + "-q" });
    this._prompt = el("h2", { id: id + "-q" }, "Loading the question…");
    var form = el("form", { novalidate: "" });
    var label = el("label", { for: id + "-a" }, "Your answer");
    this._answer = el("textarea", { id: id + "-a", name: "answer", "aria-describedby": id + "-s" });
    this._button = el("button", { type: "submit" }, "Check my answer");
    this._status = el("div", { id: id + "-s", class: "status", role: "status", "aria-live": "polite" });
    this._result = el("section", { class: "result", "aria-label": "Feedback", hidden: "" });
    form.append(label, this._answer, this._button);
    card.append(this._prompt, form, this._status, this._result);
    root.append(style, card);
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this._answer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); this.submit(); }
    });
    this.loadQuestion();
  }

  get api() { return (this.getAttribute("api") || DEFAULT_API).replace(/\/$/, ""); }

  say(message, isError) {
    this._status.textContent = message;
    this._status.className = "status" + (isError ? " error" : "");
    this._status.setAttribute("role", isError ? "alert" : "status");
  }

  async loadQuestion() {
    var lesson = this.getAttribute("lesson"), question = this.getAttribute("question");
    if (this.getAttribute("prompt")) { this._prompt.textContent = this.getAttribute("prompt"); return; }
    try {
      var response = await fetch(this.api + "/v1/lessons/" + encodeURIComponent(lesson));
      if (!response.ok) throw new Error(await this.problem(response));
      var data = await response.json();
      var found = (data.questions || []).find(function (q) { return q.id === question; });
      if (!found) throw new Error("This lesson has no question " + question + ".");
      this._prompt.textContent = found.prompt;
    } catch (err) {
      this._prompt.textContent = "Question " + question;
      this.say(this.explain(err), true);
    }
  }

  problem(response) {
    return problemMessage(response, function (wait) {
      return "Too many attempts right now; please wait " + wait + " seconds and try again.";
    });
  }

  explain(err) {
    if (err instanceof TypeError) {
      return "The grading service can't be reached right now. Your answer is still here; " +
        "please try again in a moment.";
    }
    return err.message || String(err);
  }

  // A busy service sheds load with 503 and Retry-After: wait as told and try again (a
  // few times, saying so), keeping the student's answer, rather than show an error.
  async post(url, headers, body) {
    for (var attempt = 0; ; attempt++) {
      var response = await fetch(url, { method: "POST", headers: headers, body: body });
      var wait = Number(response.headers.get("Retry-After"));
      if (response.status !== 503 || !(wait > 0) || wait > 10 || attempt >= 4) return response;
      this.say("Many answers are being checked right now; trying again in " + wait + " s…");
      await new Promise(function (resolve) { setTimeout(resolve, wait * 1000); });
    }
  }

  async submit() {
    if (this._busy) return;
    var answer = this._answer.value;
    if (!answer.trim()) { this.say("Write an answer first.", true); this._answer.focus(); return; }
    this._busy = true;
    this._button.disabled = true;
    this.setAttribute("aria-busy", "true");
    this.say("Checking your answer…");
    var token = this.getAttribute("launch-token");
    var url = this.api + (token ? "/lti/grade" : "/v1/grade");
    var headers = { "Content-Type": "application/json" };
    var body = { answer: answer };
    if (token) headers.Authorization = "Bearer " + token;
    else { body.lesson_id = this.getAttribute("lesson"); body.question_id = this.getAttribute("question"); }
    try {
      var response = await this.post(url, headers, JSON.stringify(body));
      if (response.status >= 500 && response.status !== 503) {
        throw new Error("The grading service had a problem (" + response.status + "). Please try again later.");
      }
      if (!response.ok) throw new Error(await this.problem(response));
      var data = await response.json();
      var result = data.result || data;
      this.render(result, data.passback, true);
      this.say("Feedback is ready below.");
      this.follow(result, data.passback);
    } catch (err) {
      this.say(this.explain(err), true);
    } finally {
      this._busy = false;
      this._button.disabled = false;
      this.removeAttribute("aria-busy");
    }
  }

  /* A grade made before the LLM had time for it is refined in the background: wait for
   * the refined revision (long-polling) and show it, saying so, without moving focus. */
  async follow(result, passback) {
    var ticket = (this._ticket = (this._ticket || 0) + 1);
    var giveUpAt = Date.now() + 5 * 60 * 1000;
    while (result.refinement === "pending" || result.refinement === "running") {
      if (ticket !== this._ticket || Date.now() > giveUpAt) return;
      try {
        var response = await fetch(this.api + "/v1/grades/" + encodeURIComponent(result.grade_id) +
          "?wait=25&after_revision=" + result.revision);
        if (!response.ok) return;
        var next = await response.json();
      } catch (e) {
        return;
      }
      if (ticket !== this._ticket) return;
      if (next.revision > result.revision) {
        this.render(next, passback, false);
        this.say("Your feedback was updated after a closer reading.");
      }
      result = next;
    }
  }

  render(result, passback, focus) {
    var box = this._result;
    box.replaceChildren();
    var heading = el("h3", { tabindex: "-1" },
      "Score: " + result.score + " of " + result.max_score + " (" + result.label + ")");
    box.append(heading, el("p", { class: "summary" }, result.feedback.summary));
    if (result.needs_review) box.append(el("p", {}, "A teacher will review this answer."));
    if (result.graded_by === "teacher") box.append(el("p", { class: "refined" }, "Graded by your teacher."));
    else if (result.revision > 1) box.append(el("p", { class: "refined" }, "Updated after a closer reading."));
    else if (result.refinement === "pending") {
      box.append(el("p", { class: "refined" }, "A closer reading is on its way; this feedback may be updated."));
    }
    if (passback) box.append(el("p", {}, "Your score has been sent to your course."));
    var list = el("ul", { "aria-label": "Feedback per key point" });
    result.key_points.forEach(function (kp) {
      var item = el("li", { class: kp.status });
      var status = STATUS_TEXT[kp.status] || kp.status;
      item.append(el("span", { class: "badge" }, status + ": "), document.createTextNode(kp.text));
      item.append(el("div", { class: "feedback" }, kp.feedback));
      if (kp.evidence) item.append(el("div", { class: "evidence" }, "You wrote: “" + kp.evidence.text + "”"));
      list.append(item);
    });
    (result.misconceptions || []).forEach(function (m) {
      var item = el("li", { class: "missing" });
      item.append(el("span", { class: "badge" }, "Misconception: "), document.createTextNode(m.text));
      item.append(el("div", { class: "feedback" }, m.feedback));
      list.append(item);
    });
    box.append(list);
    box.hidden = false;
    if (focus) heading.focus();
    this.dispatchEvent(new CustomEvent("rubricate-graded", { detail: result, bubbles: true }));
  }
}

/* Defines <rubricate-question> (once); defaultApi: the service's URL for elements without
 * an api attribute. */
export function define(defaultApi) {
  if (customElements.get("rubricate-question")) return;
  DEFAULT_API = defaultApi;
  customElements.define("rubricate-question", RubricateQuestion);
}
