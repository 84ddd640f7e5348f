/* Helpers the teacher console and the question widget both use (an ES module).
 *
 * The console imports it from /static/console/*.js; the widget's element module
 * (rubricate-question.js) imports it too, also from pages on other origins, which is why
 * /static/ answers with "Access-Control-Allow-Origin: *".
 */

/* A key point's status as words. */
export const STATUS_TEXT = { met: "Met", partial: "Partly met", missing: "Missing" };

/* The service's base URL (no trailing slash) from the URL of one of its scripts at its root,
 * e.g. https://host/widget.js -> https://host; "" (the page's own origin) without one. */
export function serviceBase(scriptUrl) {
  return scriptUrl ? new URL(".", scriptUrl).href.replace(/\/$/, "") : "";
}

/* An element with attributes (null, undefined and false are left out) and text. */
export function el(tag, attrs, text) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
  });
  if (text !== undefined) node.textContent = text;
  return node;
}

/* What a refused request says, in words for a person: the problem+json "detail" (or
 * "title"); for 429, tooMany(seconds to wait) from Retry-After; else "The service answered
 * <status>." (also when the body is not JSON). */
export async function problemMessage(response, tooMany) {
  try {
    var body = await response.json();
    if (response.status === 429) {
      var wait = response.headers.get("Retry-After") || body.retry_after || "a few";
      return tooMany(wait);
    }
    var detail = body.detail || body.title;
    if (detail) return detail;
  } catch (e) { /* not JSON */ }
  return "The service answered " + response.status + ".";
}
