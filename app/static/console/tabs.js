/* The four sections as tabs (arrow keys, Home and End move between them; the URL's hash
 * names the open one), each loaded when opened if its data is stale. */
import { loadAgreement } from "./agreement.js";
import { $ } from "./page.js";
import { renderRegrade } from "./regrade.js";
import { loadQueue } from "./review.js";
import { state, TABS } from "./state.js";

export function showTab(name, focus) {
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

export function refreshTab() {
  if (!state.lesson) return;
  if (state.tab === "review" && state.stale.review) loadQueue();
  if (state.tab === "agreement" && state.stale.agreement) loadAgreement();
  if (state.tab === "regrade" && state.stale.regrade) renderRegrade();
}

export function tabKeys(event) {
  var i = TABS.indexOf(event.target.id.replace("tab-", ""));
  var next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  showTab(TABS[(next + TABS.length) % TABS.length], true);
}
