// tonepay console: plain JavaScript, no build step. Credentials live in
// sessionStorage (this tab only); everything shown is masked by the server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const FIELDS = {
  "payment-card-number": "Card number", "payment-card-number-matcher": "Card number again",
  "expiration-date": "Expiry (MMYY)", "expiration-date-matcher": "Expiry again",
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
const RESULTS = {
  "success": "Payment succeeded", "payment-connector-error": "The payment connector refused the payment",
  "caller-interrupted-with-star": "The caller pressed * and ended the payment", "caller-hung-up": "The caller hung up",
  "payment-cancelled": "The payment was cancelled", "internal-error": "The payment's outcome is unknown",
};

let creds = JSON.parse(sessionStorage.getItem("tonepay") || "null");
let calls = [];
let selected = null;        // call sid
const sessions = {};        // call sid -> latest session view
let streamAbort = null;

async function api(method, path, form) {
  const opts = { method, headers: { Authorization: "Basic " + btoa(creds.user + ":" + creds.pass) } };
  if (form) {
    opts.headers["Content-Type"] = "application/x-www-form-urlencoded";
    opts.body = new URLSearchParams(form);
  }
  const res = await fetch(path, opts);
  const body = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw new Error(`${body.message || res.statusText} (${body.code || res.status})`);
  return body;
}
const twilio = (p) => `/2010-04-01/Accounts/${creds.account}${p}`;
const ours = (p) => `/_tonepay/Accounts/${creds.account}${p}`;
const key = () => crypto.randomUUID();

// --- sign in -------------------------------------------------------------
$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const user = f.get("user").trim();
  creds = { user, pass: f.get("pass"), account: user.startsWith("AC") ? user : f.get("account").trim() };
  try {
    await api("GET", twilio("/Calls.json?PageSize=1"));
    sessionStorage.setItem("tonepay", JSON.stringify(creds));
    start();
  } catch (err) {
    $("#signin-error").textContent = "Could not sign in: " + err.message;
    creds = null;
  }
});
$("#signout").addEventListener("click", () => {
  sessionStorage.removeItem("tonepay");
  location.reload();
});

function start() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#whoami").hidden = false;
  $("#account").textContent = creds.account;
  refreshCalls();
  setInterval(refreshCalls, 3000);
  stream();
}

// --- calls -----------------------------------------------------------------
async function refreshCalls() {
  try {
    calls = (await api("GET", twilio("/Calls.json?PageSize=20"))).calls;
    renderCalls();
  } catch (err) { /* the next refresh tries again */ }
}

function renderCalls() {
  const list = $("#call-list");
  list.replaceChildren(...calls.map((c) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.sid = c.sid;
    b.setAttribute("aria-current", String(c.sid === selected));
    b.innerHTML = `<span></span><small></small>`;
    b.firstChild.textContent = `${c.from} → ${c.to}`;
    b.lastChild.textContent = `${c.status === "in-progress" ? "● in progress" : "○ " + c.status} · ${c.sid.slice(0, 10)}…`;
    b.addEventListener("click", () => select(c.sid));
    li.append(b);
    return li;
  }));
}

$("#new-call").addEventListener("click", async () => {
  try {
    const c = await api("POST", twilio("/Calls.json"), { To: "+15005550006", From: "+15005550001", Twiml: "<Response><Pause length=\"3600\"/></Response>" });
    await refreshCalls();
    select(c.sid);
  } catch (err) { showError(err); }
});

function select(sid) {
  selected = sid;
  renderCalls();
  renderPayment();
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
  try {
    const p = await api("POST", twilio(`/Calls/${selected}/Payments.json`), form);
    sessions[selected] = await api("GET", ours(`/Calls/${selected}/Payments/${p.sid}`));
    renderPayment();
  } catch (err) { showError(err); }
});

async function update(form) {
  const s = sessions[selected];
  try {
    await api("POST", twilio(`/Calls/${selected}/Payments/${s.sid}.json`),
      { IdempotencyKey: key(), StatusCallback: location.origin + "/_tonepay/sink", ...form });
    sessions[selected] = await api("GET", ours(`/Calls/${selected}/Payments/${s.sid}`));
    renderPayment();
  } catch (err) { showError(err); }
}
$("#process").addEventListener("click", () => update({ Status: "complete" }));
$("#cancel").addEventListener("click", () => update({ Status: "cancel" }));
$("#again").addEventListener("click", () => { delete sessions[selected]; renderPayment(); });

function showError(err) {
  $("#payment-error").textContent = err.message;
  setTimeout(() => { $("#payment-error").textContent = ""; }, 8000);
}

function fieldsOf(s) {
  const set = new Set([...s.required, ...Object.keys(s.captured)]);
  if (s.capture) set.add(s.capture);
  return ORDER.filter((f) => set.has(f));
}

function renderPayment() {
  const s = sessions[selected];
  $("#no-call").hidden = !!selected;
  $("#start-form").hidden = !selected || !!s;
  $("#session").hidden = !s;
  if (!s) return;
  const open = s.status === "open";
  const what = s.charge_amount ? `Charge ${s.charge_amount} ${s.currency}` : `Tokenize (${s.token_type})`;
  $("#session-status").textContent = {
    open: `${what} · ${s.required.length ? "waiting for " + s.required.length + " field(s)" : "ready to process"}`,
    confirming: `${what} · waiting for the caller to press 1 (go ahead) or 2 (cancel)`,
    processing: `${what} · processing…`, ended: `${what} · ended`,
  }[s.status] || s.status;
  $("#tiles").replaceChildren(...fieldsOf(s).map((f) => tile(s, f, open)));
  $("#process").disabled = !open || s.required.length > 0;
  $("#cancel").disabled = !(open || s.status === "confirming");
  $("#again").hidden = s.status !== "ended";
  const r = $("#result");
  r.hidden = s.status !== "ended";
  if (s.status === "ended") {
    const ok = s.result === "success";
    r.className = ok ? "ok" : "bad";
    const detail = ok ? (s.payment_confirmation_code ? `Confirmation code ${s.payment_confirmation_code}`
      : `Token ${s.payment_token}${s.profile_id ? " · profile " + s.profile_id : ""}`)
      : (s.payment_error ? `${s.payment_error} (error ${s.pay_error_code}${s.connector_error ? ", " + s.connector_error : ""})` : "");
    r.textContent = `${ok ? "✓" : "✗"} ${RESULTS[s.result] || s.result}. ${detail}`;
  }
}

function tile(s, f, open) {
  const li = document.createElement("li");
  let state, cls, value = s.captured[f] || "";
  if (s.capture === f) {
    cls = "capturing"; state = `▶ Capturing: ${s.typed} digit${s.typed === 1 ? "" : "s"} so far`;
    value = "•".repeat(s.typed);
  } else if (value) {
    cls = "captured"; state = "✓ Captured" + (f === "payment-card-number" && s.card_type ? ` (${s.card_type})` : "");
  } else if (s.error_field === f) {
    cls = "error"; state = `✗ Error: ${ERRORS[s.error_type] || s.error_type}`;
  } else {
    cls = "waiting"; state = "○ Waiting";
  }
  li.className = "tile " + cls;
  li.dataset.field = f;
  li.innerHTML = `<span class="name"></span><span class="value"></span><span class="state"></span><button type="button"></button>`;
  li.querySelector(".name").textContent = FIELDS[f];
  li.querySelector(".value").textContent = value;
  li.querySelector(".state").textContent = state;
  const b = li.querySelector("button");
  b.textContent = value ? "Ask again" : "Request";
  b.setAttribute("aria-label", `${b.textContent}: ${FIELDS[f]}`);
  b.disabled = !open;
  b.addEventListener("click", () => update({ Capture: f }));
  return li;
}

// --- the caller's phone ---------------------------------------------------
async function press(keys) {
  if (!selected) return showError(new Error("Choose a call first"));
  try { await api("POST", ours(`/Calls/${selected}/Digits`), { Digits: keys }); } catch (err) { showError(err); }
}
document.querySelectorAll("#keypad button").forEach((b) => b.addEventListener("click", () => press(b.textContent)));
$("#type-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const keys = e.target.keys.value.trim();
  if (keys) press(keys);
  e.target.keys.value = "";
});
$("#hangup").addEventListener("click", async () => {
  if (!selected) return;
  try { await api("POST", twilio(`/Calls/${selected}.json`), { Status: "completed" }); refreshCalls(); } catch (err) { showError(err); }
});

// --- live updates: server-sent events over fetch, reconnecting --------------
function setLive(on) {
  const b = $("#live");
  b.textContent = on ? "● Live" : "○ Reconnecting…";
  b.className = "badge " + (on ? "on" : "off");
}

async function stream() {
  let delay = 500;
  for (;;) {
    streamAbort = new AbortController();
    try {
      const res = await fetch(ours("/Events"), {
        headers: { Authorization: "Basic " + btoa(creds.user + ":" + creds.pass), Accept: "text/event-stream" },
        signal: streamAbort.signal,
      });
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
  const known = sessions[s.call_sid];
  if (!known || known.sid === s.sid || s.date_created >= known.date_created) sessions[s.call_sid] = s;
  if (s.call_sid === selected) renderPayment();
}

if (creds) start();
