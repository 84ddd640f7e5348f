/* Numbers and text as the console shows them. */

/* "1 answer", "3 answers"; many defaults to one + "s". */
export function plural(n, one, many) { return n + " " + (n === 1 ? one : many || one + "s"); }
/* 0.834 -> "83%"; "–" when there is no figure. */
export function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
/* A score: at most two decimals, 0.5 -> "0.5". */
export function num(x) { return String(Math.round(x * 100) / 100); }
/* Two decimals always, 0.5 -> "0.50" (kappa); "–" when there is no figure. */
export function fixed(x) { return x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toFixed(2); }
/* A label as a class name: "partially correct" -> "partially-correct". */
export function slug(text) { return String(text).replace(/\s+/g, "-"); }
/* The first n characters, with "…" when cut. */
export function snippet(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
