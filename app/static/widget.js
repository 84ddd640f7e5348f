/* rubricate question widget.
 *
 *   <script src="https://rubricate.example/widget.js"></script>
 *   <rubricate-question lesson="instruction-tuning" question="sc-2"></rubricate-question>
 *
 * Attributes: lesson, question (required); api (base URL; default: where widget.js came
 * from); prompt (skip fetching the question); launch-token (inside an LTI launch: grades
 * through /lti/grade, scoped to that launch). The host page's origin must be in the
 * service's RUBRICATE_CORS_ORIGINS unless it is the service itself.
 *
 * This file stays a classic script, so the snippet above works on any page as it always
 * has (no type="module" needed). It loads the element itself, an ES module, from the same
 * place: static/rubricate-question.js, which imports static/shared.js (helpers shared with
 * the teacher console). Pages on other origins may load those modules: /static/ answers
 * with "Access-Control-Allow-Origin: *". The element is defined once they have loaded.
 */
(function () {
  "use strict";
  if (customElements.get("rubricate-question")) return;

  var script = document.currentScript;
  var DEFAULT_API = script && script.src ? new URL(".", script.src).href.replace(/\/$/, "") : "";
  var element = new URL("static/rubricate-question.js", script && script.src ? script.src : document.baseURI).href;

  import(element).then(
    function (module) { module.define(DEFAULT_API); },
    function (err) { console.error("rubricate: the question widget could not load " + element + ": " + err); }
  );
})();
