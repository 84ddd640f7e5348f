/* Talking to the rubricate HTTP API: the teacher's API key, and api() with problem+json
 * errors turned into messages for the teacher.
 *
 * Teacher endpoints answer loopback clients without a key; elsewhere the API key typed at the
 * top is kept in sessionStorage and sent as "Authorization: Bearer <key>".
 */
import { problemMessage, serviceBase } from "../shared.js";

/* The service's root: this module is served at <root>/static/console/api.js. */
export var API = serviceBase(new URL("../../", import.meta.url).href);
var KEY_STORE = "rubricate.apiKey";

export function apiKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

/* Keeps the key for this tab, or forgets it when empty. */
export function storeApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch (e) { /* private mode */ }
}

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function problem(response) {
  var detail = await problemMessage(response, function (wait) {
    return "Too many requests right now; wait " + wait + " seconds and try again.";
  });
  if (response.status === 401 || response.status === 403) {
    detail += " Enter a teacher API key in the field at the top of the page.";
  }
  return detail;
}

/* A request to the API: the parsed JSON body (or, with options.raw, the response itself).
 * options: method, headers, body, json (sent as JSON), raw. Throws ApiError. */
export async function api(path, options) {
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
