/* Class files: upload a CSV or JSON Lines file of answers, follow the batch's progress, then
 * link its class report and results. */
import { el } from "../shared.js";
import { API, api, apiKey } from "./api.js";
import { num, plural } from "./format.js";
import { $, clearError, fail, say } from "./page.js";
import { state } from "./state.js";

var FINISHED = ["done", "cancelled", "failed"];

/* The upload form's submit listener. */
export async function upload(event) {
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

/* Polls the batch until it is finished (or another batch is uploaded). */
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
