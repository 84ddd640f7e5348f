/* The review queue's keyboard shortcuts (listed on the page, in #review-keys): j/k groups,
 * n/p answers, 1/2/3 labels, a accept, s save, w whole group, c comment, r refresh. */
import { $, clearError, say } from "./page.js";
import { decide, loadQueue, move } from "./review.js";
import { state } from "./state.js";

/* Whether a key press goes to a text field (then it is no shortcut). */
function typing(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  var tag = target.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  return tag === "input" && ["radio", "checkbox", "button", "submit"].indexOf(target.type) < 0;
}

/* The document's keydown listener. */
export function shortcuts(event) {
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
