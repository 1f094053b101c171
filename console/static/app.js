// tonepay console: plain JavaScript, no build step. Credentials live in
// sessionStorage (this tab only); everything shown is masked by the server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const FIELDS = {
  "payment-card-number": "Card number", "payment-card-number-matcher": "Card number again",
  "expiration-date": "Expiry date", "expiration-date-matcher": "Expiry date again",
  "security-code": "Security code", "security-code-matcher": "Security code again",
  "postal-code": "Postal code", "postal-code-matcher": "Postal code again",
  "bank-routing-number": "Routing number", "bank-account-number": "Account number",
};
const ORDER = Object.keys(FIELDS);
const ERRORS = {
  "input-timeout": "the caller typed nothing in time", "invalid-card-number": "not a valid card number",
  "invalid-card-type": "a card type this payment does not accept", "invalid-date": "not a valid expiry date",
  "invalid-security-code": "wrong length for this card", "invalid-postal-code": "not a valid postal code",
  "invalid-bank-routing-number": "not a valid routing number", "invalid-bank-account-number": "not a valid account number",
  "invalid-card-number-security-code-capture-sequence": "capture the card number first",
  "input-matching-failed": "the two entries differ",
};
const BRANDS = {
  visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover", jcb: "JCB",
  "diners-club": "Diners Club", maestro: "Maestro", enroute: "enRoute", optima: "Optima",
};
// Refusals of the payment itself, as opposed to the connector failing.
const DECLINES = new Set([64008, 64010, 64012]);
const LIVE_CALL = new Set(["queued", "ringing", "in-progress"]);

let creds = JSON.parse(sessionStorage.getItem("tonepay") || "null");
let calls = [];
let selected = null;        // call sid
const sessions = {};        // call sid -> latest session view
const hungUp = new Set();   // call sids known to have ended, before the next list
const dismissed = new Set(); // session sids put away with New payment
const previous = {};        // call sid -> the ended session put away with New payment
const tileErrors = {};      // "session sid field" -> message of a failed request
let shownEnd = null;        // sid of the session whose result last took focus
let started = false;

class APIError extends Error {
  constructor(status, body) {
    super(`${(body.message || "HTTP " + status).replace(/^Authenticate: /, "")} (error ${body.code || status})`);
    this.status = status;
    this.code = body.code || status;
  }
}

// api calls the server as a page's script: X-Requested-With asks it to leave
// out the Basic challenge, so a wrong token is our error message and not the
// browser's login prompt; credentials "omit" keeps the browser's own
// credential cache out of it.
async function api(method, path, form) {
  const opts = {
    method, credentials: "omit",
    headers: { Authorization: "Basic " + btoa(creds.user + ":" + creds.pass), "X-Requested-With": "XMLHttpRequest" },
  };
  if (form) {
    opts.headers["Content-Type"] = "application/x-www-form-urlencoded";
    opts.body = new URLSearchParams(form);
  }
  let res;
  try { res = await fetch(path, opts); } catch (err) { throw new Error("Could not reach the server: " + err.message); }
  const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new APIError(res.status, body);
    if (res.status === 401 && started) signOut("Signed out: " + err.message);
    throw err;
  }
  return body;
}
const twilio = (p) => `/2010-04-01/Accounts/${creds.account}${p}`;
const ours = (p) => `/_tonepay/Accounts/${creds.account}${p}`;
const key = () => crypto.randomUUID();

// say puts a message next to what caused it ("" clears it).
function say(el, msg) { el.textContent = msg || ""; }

// keepFocus re-renders without losing the keyboard's place: the element with
// the same data-focus gets the focus back.
function keepFocus(render) {
  const k = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  render();
  if (k) { const el = document.querySelector(`[data-focus="${CSS.escape(k)}"]`); if (el && !el.disabled) el.focus(); }
}

// --- sign in -------------------------------------------------------------
const signinForm = $("#signin-form");
signinForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(signinForm);
  const user = f.get("user").trim(), pass = f.get("pass");
  const err = $("#signin-error");
  for (const i of signinForm.querySelectorAll("input")) i.removeAttribute("aria-invalid");
  if (!user || !pass) {
    say(err, !user ? "Enter the Account SID or API key SID." : "Enter the auth token or key secret.");
    const bad = signinForm.elements[!user ? "user" : "pass"];
    bad.setAttribute("aria-invalid", "true");
    bad.focus();
    return;
  }
  creds = { user, pass, account: user.startsWith("AC") ? user : f.get("account").trim() };
  const button = signinForm.querySelector("button");
  button.disabled = true;
  button.textContent = "Signing in…";
  say(err, "");
  try {
    await api("GET", twilio("/Calls.json?PageSize=1"));
    sessionStorage.setItem("tonepay", JSON.stringify(creds));
    start();
  } catch (e2) {
    creds = null;
    say(err, e2.code === 20003 ? `Wrong SID or token: ${e2.message}. Check them and sign in again.` : "Could not sign in: " + e2.message);
    signinForm.elements.user.setAttribute("aria-invalid", "true");
    signinForm.elements.pass.setAttribute("aria-invalid", "true");
    signinForm.elements.pass.select();
    signinForm.elements.pass.focus();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
});
function signOut(msg) {
  sessionStorage.removeItem("tonepay");
  sessionStorage.removeItem("tonepay-call");
  if (msg) sessionStorage.setItem("tonepay-signout", msg);
  location.reload();
}
$("#signout").addEventListener("click", () => signOut());
{
  const msg = sessionStorage.getItem("tonepay-signout");
  if (msg) { sessionStorage.removeItem("tonepay-signout"); say($("#signin-error"), msg); }
}

function start() {
  if (started) return;
  started = true;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#whoami").hidden = false;
  $("#account").textContent = creds.account;
  // Side by side there is room to show the timeline open; a phone keeps it
  // folded so the payment and the keypad stay in sight.
  $("#timeline-box").open = matchMedia("(min-width: 901px)").matches;
  renderAll();
  refreshCalls();
  setInterval(refreshCalls, 3000);
  stream();
  $("#new-call").focus();
  // A reload keeps the call the agent was on, and with it how its payment
  // went (the Payments list has ended ones too).
  const call = sessionStorage.getItem("tonepay-call");
  if (call && /^CA[0-9a-f]{32}$/.test(call)) select(call);
}

function renderAll() { renderCalls(); renderPayment(); renderPhone(); }

// --- calls -----------------------------------------------------------------
const callOf = (sid) => calls.find((c) => c.sid === sid);
const callEnded = (sid) => hungUp.has(sid) || (!!callOf(sid) && !LIVE_CALL.has(callOf(sid).status));

async function refreshCalls() {
  let list;
  try { list = (await api("GET", twilio("/Calls.json?PageSize=20"))).calls; } catch (err) { return; /* the next refresh tries again */ }
  const before = JSON.stringify(calls.map((c) => [c.sid, c.status]));
  calls = list;
  if (JSON.stringify(calls.map((c) => [c.sid, c.status])) !== before) renderAll();
}

function setCall(c) {
  const i = calls.findIndex((x) => x.sid === c.sid);
  if (i >= 0) calls[i] = c; else calls.unshift(c);
}

function renderCalls() {
  keepFocus(() => {
    const list = $("#call-list");
    list.replaceChildren(...calls.map((c) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      const ended = callEnded(c.sid);
      b.type = "button";
      b.dataset.focus = "call:" + c.sid;
      b.className = ended ? "ended" : "";
      b.setAttribute("aria-current", String(c.sid === selected));
      b.innerHTML = `<span></span><small></small>`;
      b.firstChild.textContent = `${c.from} → ${c.to}`;
      b.lastChild.textContent = `${ended ? "■ Ended" : "● In progress"} · ${c.sid.slice(0, 10)}…`;
      b.addEventListener("click", () => select(c.sid));
      li.append(b);
      return li;
    }));
    // The first call is the agent's first step; after that, the payment is.
    $("#new-call").className = calls.some((c) => !callEnded(c.sid)) ? "secondary" : "primary";
  });
}

$("#new-call").addEventListener("click", async () => {
  const err = $("#calls-error");
  try {
    const c = await api("POST", twilio("/Calls.json"), { To: "+15005550006", From: "+15005550001", Twiml: "<Response><Pause length=\"3600\"/></Response>" });
    say(err, "");
    setCall(c);
    select(c.sid);
    $("#start").focus();
  } catch (e) { say(err, e.message); }
});

function select(sid) {
  selected = sid;
  if (sid) sessionStorage.setItem("tonepay-call", sid);
  renderAll();
  watchTimeline(sid);
  if (sid && !sessions[sid]) findLatest(sid);
}

// findLatest asks for the call's newest session, open or ended: a <Pay> in
// the call's TwiML starts one that no event may announce (a <Pay> without
// statusCallback queues no callbacks), and an ended one is how the call's
// payment went, its confirmation code included, after a reload or in
// another tab. None (an empty list) is the usual answer on a new call.
async function findLatest(call) {
  let s;
  try { s = (await api("GET", ours(`/Calls/${call}/Payments?PageSize=1`))).payments[0]; } catch (err) { return; }
  if (!s || dismissed.has(s.sid)) return;
  merge(s);
  if (call === selected) renderPayment();
}

// --- payment -------------------------------------------------------------
$("#start-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const form = {
    IdempotencyKey: key(), StatusCallback: location.origin + "/_tonepay/sink",
    PaymentMethod: f.get("method"), TokenType: f.get("token"), Currency: f.get("currency"),
    SecurityCode: String(f.get("security") === "on"), PostalCode: String(f.get("postal") === "on"),
  };
  const amount = f.get("amount").trim();
  if (amount && Number(amount) > 0) form.ChargeAmount = amount;
  const call = selected;
  try {
    const p = await api("POST", twilio(`/Calls/${call}/Payments.json`), form);
    merge(await api("GET", ours(`/Calls/${call}/Payments/${p.sid}`)));
    say($("#start-error"), "");
    renderPayment();
    const first = document.querySelector("#tiles .tile.next button");
    if (first) first.focus();
  } catch (err) { say($("#start-error"), err.message); }
});

// update changes the selected call's session; a failure is shown at where.
async function update(form, where) {
  const call = selected, s = sessions[call];
  try {
    await api("POST", twilio(`/Calls/${call}/Payments/${s.sid}.json`),
      { IdempotencyKey: key(), StatusCallback: location.origin + "/_tonepay/sink", ...form });
    where.clear();
    await refreshSession(call);
  } catch (err) {
    where.show(err.message);
    refreshSession(call).catch(() => {});
  }
}
async function refreshSession(call) {
  const s = sessions[call];
  if (!s) return findLatest(call);
  const fresh = await api("GET", ours(`/Calls/${call}/Payments/${s.sid}`));
  if (sessions[call] && sessions[call].sid === fresh.sid) merge(fresh);
  if (call === selected) renderPayment();
}

// merge keeps the newest view of a call's session. A fetch's answer and the
// event stream race: a view never takes a session back to an earlier status
// (open, confirming, processing, ended), so "processing" read late does not
// hide the "ended" already shown.
const RANK = { open: 0, confirming: 1, processing: 2, ended: 3 };
function merge(s) {
  const known = sessions[s.call_sid];
  if (!known || (known.sid !== s.sid && s.date_created >= known.date_created) ||
      (known.sid === s.sid && (RANK[s.status] ?? 0) >= (RANK[known.status] ?? 0))) sessions[s.call_sid] = s;
}

// While the connector works or the caller confirms, nothing the agent does
// changes the session: ask again each second too, in case an event is lost.
// A <Pay> session changes as the caller types, and may send no events at
// all: ask each second while it runs.
let polling = null;
function pollWhileBusy(s) {
  const busy = s && (s.status === "processing" || s.status === "confirming" || (s.self_service && s.status === "open"));
  if (polling || !busy || callEnded(s.call_sid)) return;
  polling = setTimeout(() => { polling = null; refreshSession(s.call_sid).catch(() => {}); }, 1000);
}
const actionsError = { show: (m) => say($("#actions-error"), m), clear: () => say($("#actions-error"), "") };
$("#process").addEventListener("click", () => update({ Status: "complete" }, actionsError));
$("#cancel").addEventListener("click", () => update({ Status: "cancel" }, actionsError));
$("#again").addEventListener("click", () => {
  dismissed.add(sessions[selected].sid);
  if (sessions[selected].status === "ended") previous[selected] = sessions[selected];
  delete sessions[selected];
  renderPayment();
  $("#start").focus();
});

$("#copy").addEventListener("click", async () => {
  const text = $("#code").textContent;
  let ok = false;
  try { await navigator.clipboard.writeText(text); ok = true; } catch (err) {
    // No clipboard API (not a secure context): copy the selected text.
    const r = document.createRange();
    r.selectNodeContents($("#code"));
    getSelection().removeAllRanges();
    getSelection().addRange(r);
    try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
  }
  say($("#copy-status"), ok ? "✓ Copied" : "Selected: press Ctrl+C to copy");
});

function fieldsOf(s) {
  const set = new Set([...s.required, ...Object.keys(s.captured)]);
  if (s.capture) set.add(s.capture);
  return ORDER.filter((f) => set.has(f));
}

// shown turns a masked value into what an agent reads: •••• 4242, 12/30, •••.
function shown(f, v) {
  if (!v) return "";
  let m;
  if ((m = /^x+(\d{1,4})$/.exec(v))) return "•••• " + m[1];
  if (/^x+$/.test(v)) return "•".repeat(v.length);
  if (f.startsWith("expiration-date") && /^\d{4}$/.test(v)) return v.slice(0, 2) + "/" + v.slice(2);
  return v;
}
const brandOf = (s) => s.card_type ? (BRANDS[s.card_type] || s.card_type) : "";
function cardText(s) {
  const number = shown("payment-card-number", s.captured["payment-card-number"] || s.captured["bank-account-number"]);
  return [brandOf(s), number].filter(Boolean).join(" ");
}

// outcome is how an ended session reads to an agent.
function outcome(s) {
  const charge = !!s.charge_amount;
  const money = charge ? `${s.charge_amount} ${s.currency}` : "";
  const card = cardText(s);
  const saved = s.payment_method === "ach-debit" ? "Bank account" : "Card";
  const reason = s.payment_error ? `${s.payment_error.replace(/\.$/, "")} · error ${s.pay_error_code}${s.connector_error ? " · " + s.connector_error : ""}` : "";
  switch (s.result) {
    case "success":
      return charge
        ? { cls: "ok", sym: "✓", title: "Succeeded", what: `${money} charged${card ? " to " + card : ""}`, label: "Confirmation code", code: s.payment_confirmation_code }
        : { cls: "ok", sym: "✓", title: `${saved} saved`, what: `${card || saved} saved as a ${s.token_type || ""} token`, label: "Payment token", code: s.payment_token,
            reason: s.profile_id ? "Profile " + s.profile_id : "" };
    case "payment-connector-error":
      return { cls: "bad", sym: "✗", title: DECLINES.has(s.pay_error_code) ? "Declined" : "Failed", what: charge ? `${money} not charged${card ? " to " + card : ""}` : `${card || saved} not saved`, reason };
    case "caller-hung-up":
      return { cls: "neutral", sym: "■", title: "Call ended", what: "The caller hung up before the payment was processed.", reason: charge ? `${money} not charged.` : "" };
    case "caller-interrupted-with-star":
      return { cls: "neutral", sym: "■", title: "Cancelled by the caller", what: "The caller pressed * to end the payment.", reason: charge ? `${money} not charged.` : "" };
    case "payment-cancelled":
      return { cls: "neutral", sym: "■", title: "Cancelled", what: "The payment was cancelled.", reason: charge ? `${money} not charged.` : "" };
    case "too-many-failed-attempts":
      return { cls: "bad", sym: "✗", title: "Failed", what: "Too many invalid entries from the caller.", reason };
    case "validation-error":
      return { cls: "bad", sym: "✗", title: "Failed", what: "The caller's entries were not valid.", reason };
    case "internal-error":
      return { cls: "bad", sym: "?", title: "Outcome unknown", what: "Check with the processor before taking the payment again.", reason };
    default:
      return { cls: "neutral", sym: "■", title: "Ended", what: s.result || "", reason };
  }
}

function renderPayment() {
  keepFocus(renderPaymentNow);
}

function renderPaymentNow() {
  const call = callOf(selected), ended = !!selected && callEnded(selected);
  const info = $("#call-info");
  info.textContent = call ? `${call.from} → ${call.to} · ${ended ? "■ Call ended" : "● Call in progress"}` : "";
  info.className = "hint" + (ended ? " ended" : call ? " live" : "");
  $("#no-call").hidden = !!selected;
  const s = sessions[selected];
  $("#start-form").hidden = !selected || !!s;
  $("#start").disabled = ended;
  $("#start-note").hidden = !ended;
  $("#start-note").textContent = ended ? "This call has ended: start a new simulated call to take a payment." : "";
  renderLast(!s && previous[selected]);
  $("#session").hidden = !s;
  renderResult(s);
  $("#app").classList.remove("keys");
  if (!s) return;

  const open = s.status === "open" && !ended;
  const self = !!s.self_service; // the IVR asks the caller: no agent actions
  $("#self-service").hidden = !self;
  // Once the <Pay> has ended, the banner says how, not that it runs.
  $("#self-service").textContent = s.status === "ended" ? `Self-service <Pay> ended: ${outcome(s).title}`
    : "Self-service <Pay>: the caller is paying by keypad";
  const what = s.charge_amount ? `Charge ${s.charge_amount} ${s.currency}` : `Save the ${s.payment_method === "ach-debit" ? "bank account" : "card"} (${s.token_type} token)`;
  $("#session-what").textContent = what;
  const brand = $("#card-brand");
  brand.hidden = !s.card_type;
  if (s.card_type) {
    brand.innerHTML = "<b></b><span></span>";
    brand.firstChild.textContent = brandOf(s);
    brand.lastChild.textContent = shown("payment-card-number", s.captured["payment-card-number"]);
  } else brand.replaceChildren(); // no earlier call's card left in the page

  const fields = fieldsOf(s);
  const done = fields.filter((f) => s.captured[f]).length;
  const next = open && !s.capture ? fields.find((f) => !s.captured[f]) : null;
  const bar = $("#progress-bar");
  bar.setAttribute("aria-valuemax", fields.length);
  bar.setAttribute("aria-valuenow", done);
  bar.setAttribute("aria-valuetext", `${done} of ${fields.length} fields captured`);
  bar.firstChild.style.width = fields.length ? `${(100 * done) / fields.length}%` : "0";
  const count = `${done} of ${fields.length} captured`;
  $("#session-status").textContent =
    s.status === "ended" ? `${count} · Payment ended`
    : ended ? `${count} · The call has ended`
    : s.status === "confirming" ? "Waiting for the caller to press 1 to pay, or 2 to cancel"
    : s.status === "processing" ? "Processing the payment…"
    : s.capture ? `${count} · The caller is typing the ${FIELDS[s.capture].toLowerCase()}`
    : next && self ? `${count} · Next: the caller is asked for the ${FIELDS[next].toLowerCase()}`
    : next ? `${count} · Next: ask for the ${FIELDS[next].toLowerCase()}`
    : `All ${fields.length} captured · Ready to process`;

  $("#tiles").replaceChildren(...fields.map((f) => tile(s, f, open, next)));
  const ready = open && !self && s.required.length === 0 && !s.capture;
  $("#process").disabled = !ready;
  $("#process").className = ready ? "primary big" : "secondary";
  $("#cancel").disabled = ended || !(s.status === "open" || s.status === "confirming");
  // The caller ends a <Pay> with *; an agent's Status=complete would be 64021.
  $("#cancel").hidden = s.status === "ended" || self;
  $("#process").hidden = s.status === "ended" || self;
  $("#again").hidden = s.status !== "ended" && !ended;
  $("#again").disabled = ended;
  $("#again-note").hidden = !ended;
  $("#again-note").textContent = ended ? "The call has ended: no new payment on it." : "";
  // While the caller has keys to press, a phone keeps the keypad in sight.
  $("#app").classList.toggle("keys", open || (s.status === "confirming" && !ended));
  pollWhileBusy(s);
}

// renderLast keeps the payment put away with New payment in sight above a
// new one's form: its outcome and its code, so that the customer is not
// charged twice by an agent who lost track.
function renderLast(s) {
  const el = $("#last-payment");
  el.hidden = !s;
  if (!s) { el.textContent = ""; return; }
  const o = outcome(s);
  el.textContent = `Last payment on this call: ${o.sym} ${o.title} · ${o.what}${o.code ? ` · ${o.label} ${o.code}` : ""}`;
}

function renderResult(s) {
  const r = $("#result");
  const end = s && s.status === "ended";
  r.hidden = !end;
  if (!end) { say($("#copy-status"), ""); return; }
  const o = outcome(s);
  r.className = o.cls;
  r.querySelector(".symbol").textContent = o.sym;
  r.querySelector(".title").textContent = o.title;
  r.querySelector(".what").textContent = o.what;
  r.querySelector(".reason").textContent = o.reason || "";
  r.querySelector(".code").hidden = !o.code;
  r.querySelector(".code-label").textContent = o.label || "";
  if ($("#code").textContent !== (o.code || "")) say($("#copy-status"), "");
  $("#code").textContent = o.code || "";
  if (shownEnd !== s.sid) {
    // The outcome is what the agent reads out next: bring it to the eye and
    // to the keyboard (and to a screen reader) once.
    shownEnd = s.sid;
    r.focus({ preventScroll: true });
    r.scrollIntoView({ block: "nearest" });
  }
}

function tile(s, f, open, next) {
  const li = document.createElement("li");
  let state, cls, sym, value = shown(f, s.captured[f]);
  if (s.capture === f && s.status === "open") {
    cls = "capturing"; sym = "▶"; state = `${s.self_service ? "Asked now · " : ""}Listening: ${s.typed} digit${s.typed === 1 ? "" : "s"} so far`;
    value = "•".repeat(s.typed);
  } else if (value) {
    cls = "captured"; sym = "✓"; state = "Captured" + (f === "payment-card-number" && s.card_type ? ` · ${brandOf(s)}` : "");
  } else if (s.error_field === f) {
    cls = "error"; sym = "✗"; state = `Error: ${ERRORS[s.error_type] || s.error_type}. Ask again`;
  } else if (!open) {
    cls = "missed"; sym = "–"; state = "Not captured";
  } else if (f === next) {
    cls = "waiting"; sym = "→"; state = s.self_service ? "Next: the caller is asked" : "Next: ask the caller";
  } else {
    cls = "waiting"; sym = "○"; state = "Not asked yet";
  }
  li.className = "tile " + cls + (f === next ? " next" : "");
  li.dataset.field = f;
  li.innerHTML = `<span class="sym" aria-hidden="true"></span><span class="name"></span><span class="value"></span><span class="state"></span>` +
    `<span class="act"><button type="button"></button><span class="error" role="alert"></span></span>`;
  li.querySelector(".sym").textContent = sym;
  li.querySelector(".name").textContent = FIELDS[f];
  li.querySelector(".value").textContent = value;
  li.querySelector(".state").textContent = state;
  const b = li.querySelector("button");
  const errKey = s.sid + " " + f;
  b.textContent = f === next ? "Ask the caller" : s.captured[f] || s.capture === f ? "Ask again" : "Ask";
  b.className = f === next ? "primary" : "secondary";
  b.setAttribute("aria-label", `${b.textContent}: ${FIELDS[f]}`);
  b.dataset.focus = "tile:" + f;
  b.disabled = !open;
  if (s.self_service) b.remove(); // the IVR asks; an agent's Capture is 64021
  say(li.querySelector(".error"), tileErrors[errKey]);
  b.addEventListener("click", () => update({ Capture: f }, {
    show: (m) => { tileErrors[errKey] = m; },
    clear: () => { delete tileErrors[errKey]; },
  }));
  return li;
}

// --- the caller's phone ---------------------------------------------------
function renderPhone() {
  const ended = !!selected && callEnded(selected);
  const off = !selected || ended;
  for (const b of document.querySelectorAll("#keypad button, #type-form button, #type-form input, #say-form button, #say-form input")) b.disabled = off;
  $("#hangup").disabled = off;
  $("#phone-hint").textContent = !selected ? "Choose a call first."
    : ended ? "The call has ended: the keypad is off."
    : "The keys go to the selected call, as if the caller pressed them.";
  if (off) say($("#phone-error"), "");
}

async function press(keys) {
  const err = $("#phone-error");
  try {
    const call = selected;
    await api("POST", ours(`/Calls/${call}/Digits`), { Digits: keys });
    say(err, "");
    pollTimeline(); // the TwiML the keys caused has run: show it now
    // A <Pay> session changes with no event: read it now.
    if (!sessions[call] || sessions[call].self_service) refreshSession(call).catch(() => {});
  } catch (e) { say(err, e.message); }
}
document.querySelectorAll("#keypad button").forEach((b) => b.addEventListener("click", () => press(b.textContent)));
$("#type-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.keys;
  const keys = input.value.trim();
  if (!keys) return;
  if (!input.checkValidity()) { say($("#phone-error"), "Keys are 0–9, * and #, and w for a half-second pause."); return; }
  press(keys);
  input.value = "";
});
// The caller speaks: words for a <Gather input="speech">, as one utterance.
$("#say-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = e.target.words;
  const words = input.value.trim();
  if (!words) return;
  const err = $("#phone-error");
  try {
    const r = await api("POST", ours(`/Calls/${selected}/Speech`), { Text: words });
    say(err, r && r.heard === false ? "Nobody listened for speech: the words were dropped." : "");
    input.value = "";
    pollTimeline(); // the TwiML the words caused has run: show it now
  } catch (x) { say(err, x.message); }
});
$("#hangup").addEventListener("click", async () => {
  const call = selected;
  try {
    const c = await api("POST", twilio(`/Calls/${call}.json`), { Status: "completed" });
    say($("#phone-error"), "");
    setCall(c);
    hungUp.add(call);
    renderAll();
    pollTimeline();
    await refreshSession(call);
  } catch (e) { say($("#phone-error"), e.message); }
});

// --- the call's timeline: what the caller heard and did ---------------------
// Polled while the call is live (After=next_after, so each entry is read
// once), and at once when something the console knows of changed it. Every
// string in an entry comes from the app's TwiML or its server: textContent
// only, never HTML.
//
// The API lists entries in the order they were written (seq); an entry may
// be written after later ones happened (a webhook's, when its answer
// arrives). The console shows them by time (at), and entries of one instant
// in the order written: what a person reading the call expects.
const TL_PAGE = 200;
let tl = { call: null, entries: [], after: 0, status: "", timer: null, busy: false, again: false, error: "" };

function watchTimeline(sid) {
  if (tl.call === sid) return;
  clearTimeout(tl.timer);
  tl = { call: sid, entries: [], after: 0, status: "", timer: null, busy: false, again: false, error: "" };
  renderTimeline();
  if (sid) pollTimeline();
}

async function pollTimeline() {
  const t = tl;
  // A terminal status was read before the entries: every entry is in.
  if (!t.call || (t.status && !LIVE_CALL.has(t.status))) return;
  if (t.busy) { t.again = true; return; }
  clearTimeout(t.timer);
  t.busy = true;
  t.again = false;
  let more = false, failed = false;
  try {
    const r = await api("GET", ours(`/Calls/${t.call}/Timeline?After=${t.after}&PageSize=${TL_PAGE}`));
    if (t !== tl) return;
    t.entries.push(...r.entries);
    t.entries.sort(byTime);
    if (r.entries.some((e) => e.kind === "verb" && e.verb === "Pay") && !sessions[t.call]) findLatest(t.call);
    t.after = r.next_after;
    t.status = r.status;
    t.error = "";
    more = r.entries.length === TL_PAGE;
    if (r.entries.length || more) renderTimeline();
  } catch (err) {
    failed = true;
    if (t === tl) { t.error = "Could not read the timeline: " + err.message; renderTimeline(); }
  } finally { t.busy = false; }
  if (t !== tl) return;
  const live = !t.status || LIVE_CALL.has(t.status);
  if (!live && !hungUp.has(t.call)) {
    // The call ended by itself (its TwiML hung up, or the fetch failed):
    // the console need not wait for the next call list to say so.
    hungUp.add(t.call);
    renderCalls(); renderPayment(); renderPhone();
    refreshSession(t.call).catch(() => {});
  }
  if (!live) renderTimeline();
  if (more || t.again) pollTimeline();
  else if (live) t.timer = setTimeout(pollTimeline, failed ? 3000 : 1000);
}

// byTime orders entries by at, to the nanosecond (Date keeps only
// milliseconds), then by seq.
function byTime(a, b) {
  const ka = timeKey(a.at), kb = timeKey(b.at);
  return ka[0] - kb[0] || ka[1] - kb[1] || a.seq - b.seq;
}
function timeKey(at) {
  const ms = Date.parse(at || "");
  if (isNaN(ms)) return [0, 0];
  const frac = /\.(\d+)/.exec(at);
  return [ms, frac ? Number((frac[1] + "000000000").slice(3, 9)) : 0];
}

// payment is how a session's end reads on the timeline (masked by the
// server: the card's brand and last four digits).
function payment(e) {
  const card = [BRANDS[e.card_type] || e.card_type, shown("payment-card-number", e.payment_card_number || e.bank_account_number)].filter(Boolean).join(" ");
  const ok = e.text === "success";
  const what = [`${e.verb === "Pay" ? "<Pay> payment" : "Payment"}: ${e.text || "ended"}`,
    e.payment_confirmation_code ? "confirmation code " + e.payment_confirmation_code : "", card].filter(Boolean).join(" · ");
  return { cls: ok ? "paid" : e.code ? "bad" : "end", sym: ok ? "✓" : e.code ? "✗" : "■", what,
    detail: [e.payment_error, e.payment_sid].filter(Boolean).join(" · "), code: e.code };
}

// describe is how one entry reads: a symbol, a line, and a detail.
function describe(e) {
  const code = e.code ? ` · error ${e.code}` : "";
  switch (e.kind) {
    case "fetch":
      return { cls: "fetch", sym: "→", what: `${e.method || "GET"} ${e.url || ""}`, detail: e.text ? `Fetch: ${e.text}` : "Fetch" };
    case "fetched":
      return e.status
        ? { cls: e.status >= 400 ? "bad" : "fetch", sym: "←", what: `HTTP ${e.status}${e.text ? " · " + e.text : ""}`, detail: e.url || "" }
        : { cls: "bad", sym: "←", what: `No answer${e.text ? ": " + e.text : ""}`, detail: e.url || "", code: e.code };
    case "verb":
      return { cls: "verb", sym: "▸", what: `<${e.verb || "?"}>${e.text ? " " + e.text : ""}`, detail: e.url ? `${e.method || ""} ${e.url}`.trim() : "" };
    case "speech": // the caller's words; "(speech)" while a payment is open
      return { cls: "key", sym: "“", what: `Said: ${e.text || ""}`, detail: e.masked ? "masked while a payment is open" : "" };
    case "say":
      return { cls: "say", sym: "»", what: `“${e.text || ""}”`, detail: [e.voice, e.language, e.loop > 1 ? `${e.loop} times` : ""].filter(Boolean).join(" · ") };
    case "play":
      return { cls: "say", sym: "♪", what: e.url ? `Play ${e.url}` : `Play digits ${e.text || ""}`, detail: e.loop > 1 ? `${e.loop} times` : "" };
    case "error":
      return { cls: "bad", sym: "✗", what: `Error${e.code ? " " + e.code : ""}: ${e.text || ""}`, detail: e.url || "", code: e.code };
    case "warning":
      return { cls: "warn", sym: "⚠", what: `Warning${e.code ? " " + e.code : ""}: ${e.text || ""}`, detail: e.url || "", code: e.code };
    case "webhook":
      return { cls: e.status >= 200 && e.status < 300 ? "fetch" : "bad", sym: "↗", what: `${e.text || "webhook"} · ${e.status ? "HTTP " + e.status : "no answer"}`,
        detail: `${e.method || "POST"} ${e.url || ""}`.trim(), code: e.code };
    case "hangup":
      return { cls: "end", sym: "■", what: `Hung up${e.text ? " · " + e.text : ""}${code}`, detail: "", code: e.code };
    case "payment":
      return payment(e);
    default:
      return { cls: "verb", sym: "•", what: `${e.kind || "?"}${e.text ? ": " + e.text : ""}`, detail: "" };
  }
}

// rows makes one line of each run of keys, as `tonepay call timeline` reads
// them. A masked entry is one run already (the server folds a run into one
// entry, one * a key): its line says how many keys, never which. A <Gather>'s
// keys are one entry each: those of one instant (one press) are one line.
function rows(entries) {
  const out = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (e.kind === "key" && e.masked) {
      out.push({ e, count: (e.text || "*").length });
      continue;
    }
    if (e.kind === "key") {
      if (last && last.keys !== undefined && last.e.at === e.at) { last.keys += e.text || ""; continue; }
      out.push({ e, keys: e.text || "" });
      continue;
    }
    out.push({ e, d: describe(e) });
  }
  for (const r of out) {
    if (r.count !== undefined) {
      r.d = { cls: "key", sym: "#", what: `Key${r.count === 1 ? "" : "s"}: ${r.count} (masked)`, detail: "shown only when a <Gather> takes them with no payment open" };
    } else if (r.keys !== undefined) {
      r.d = { cls: "key", sym: "#", what: `Key${r.keys.length === 1 ? "" : "s"}: ${r.keys}`, detail: "" };
    }
  }
  return out;
}

function clock(at) {
  const d = new Date(at);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function renderTimeline() {
  const t = tl;
  $("#timeline").hidden = !t.call;
  if (!t.call) return;
  const list = $("#timeline-list");
  const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  const rs = rows(t.entries);
  list.replaceChildren(...rs.map((r) => {
    const li = document.createElement("li");
    li.className = "entry " + r.d.cls;
    li.dataset.kind = r.e.kind || "";
    li.dataset.seq = String(r.e.seq);
    const at = document.createElement("time");
    at.dateTime = r.e.at || "";
    at.textContent = clock(r.e.at);
    const sym = document.createElement("span");
    sym.className = "sym";
    sym.setAttribute("aria-hidden", "true");
    sym.textContent = r.d.sym;
    const what = document.createElement("span");
    what.className = "line";
    what.textContent = r.d.what;
    li.append(at, sym, what);
    if (r.d.detail || r.d.code) {
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = r.d.detail;
      if (r.d.code && Number.isInteger(r.d.code)) {
        // Twilio's page for the code says what it means and what to fix.
        const a = document.createElement("a");
        a.href = "https://www.twilio.com/docs/api/errors/" + r.d.code;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = "About " + r.d.code;
        detail.append(r.d.detail ? " · " : "", a);
      }
      li.append(detail);
    }
    return li;
  }));
  if (atEnd) list.scrollTop = list.scrollHeight;
  const live = !t.status || LIVE_CALL.has(t.status);
  const last = rs.length ? rs[rs.length - 1].d.what : "";
  const n = `${rs.length} step${rs.length === 1 ? "" : "s"}`;
  $("#timeline-sum").textContent = !t.status && !rs.length ? "Loading…"
    : `${live ? "● Live" : "■ Ended"} · ${n}${last ? " · " + (last.length > 60 ? last.slice(0, 59) + "…" : last) : ""}`;
  say($("#timeline-error"), t.error);
}

// --- live updates: server-sent events over fetch, reconnecting --------------
function setLive(on) {
  const b = $("#live");
  b.textContent = on ? "● Live" : "○ Reconnecting…";
  b.className = "badge " + (on ? "on" : "off");
}

async function stream() {
  let delay = 500;
  for (;;) {
    try {
      const res = await fetch(ours("/Events"), {
        credentials: "omit",
        headers: { Authorization: "Basic " + btoa(creds.user + ":" + creds.pass), Accept: "text/event-stream", "X-Requested-With": "XMLHttpRequest" },
      });
      if (res.status === 401) { signOut("Signed out: the credentials no longer work."); return; }
      if (!res.ok) throw new Error("HTTP " + res.status);
      setLive(true);
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          onEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (err) { /* dropped: reconnect below */ }
    setLive(false);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

function onEvent(block) {
  let type = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (type !== "session") return;
  const s = JSON.parse(data);
  if (dismissed.has(s.sid)) return; // put away with New payment
  merge(s);
  if (s.result === "caller-hung-up" && !hungUp.has(s.call_sid)) { hungUp.add(s.call_sid); renderCalls(); renderPhone(); }
  if (s.call_sid === selected) { renderPayment(); pollTimeline(); }
}

if (creds) start();
