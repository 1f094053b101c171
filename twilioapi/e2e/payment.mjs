// An application written against Twilio's official Node.js helper library
// (twilio on npm), unchanged but for where the API is: it places a call,
// takes an agent-assisted card payment on it, reads the call back, and
// meets Twilio's errors. The caller's keys go through tonepay's keypad
// (/_tonepay/.../Digits), the one thing Twilio has no API for.
// TestTwilioNodeSDK (cmd/tonepay) runs it and checks what it prints (one
// JSON object) and the signed status callbacks tonepay sent.
import twilio from "twilio";

const { TONEPAY_URL, TONEPAY_ACCOUNT_SID: sid, TONEPAY_AUTH_TOKEN: token, STATUS_CALLBACK } = process.env;

function client(user, password) {
  const c = twilio(user, password);
  c.api.baseUrl = TONEPAY_URL; // the only change from an app on Twilio
  return c;
}

async function press(call, digits) {
  const res = await fetch(`${TONEPAY_URL}/_tonepay/Accounts/${sid}/Calls/${call}/Digits`, {
    method: "POST",
    headers: { Authorization: "Basic " + Buffer.from(`${sid}:${token}`).toString("base64") },
    body: new URLSearchParams({ Digits: digits }),
  });
  if (res.status !== 200) throw new Error(`press ${call}: HTTP ${res.status}`);
}

// code runs f and returns the Twilio error code it failed with.
async function code(f) {
  try {
    await f();
  } catch (e) {
    return { status: e.status, code: e.code, moreInfo: e.moreInfo };
  }
  return null;
}

const tw = client(sid, token);
const out = {};
const call = await tw.calls.create({ to: "+15005550006", from: "+15005550001", twiml: '<Response><Pause length="3600"/></Response>' });
out.call = call.sid;
let n = 0;
const key = () => `node-${++n}`;
const create = { idempotencyKey: key(), statusCallback: STATUS_CALLBACK, chargeAmount: 19.99, currency: "usd", description: "order 1138" };
const payment = await tw.calls(call.sid).payments.create(create);
out.payment = payment.sid;
out.created = { accountSid: payment.accountSid, callSid: payment.callSid, uri: payment.uri };
// The same request again (a retry): the same session, not a second one.
out.replayed = (await tw.calls(call.sid).payments.create(create)).sid;

for (const [field, keys] of [
  ["payment-card-number", "4242424242424242#"],
  ["expiration-date", "1230"],
  ["security-code", "737"],
  ["postal-code", "94109#"],
]) {
  const p = await tw.calls(call.sid).payments(payment.sid).update({ idempotencyKey: key(), statusCallback: STATUS_CALLBACK, capture: field });
  if (p.sid !== payment.sid) throw new Error(`capture ${field}: ${p.sid}`);
  await press(call.sid, keys);
}
const done = await tw.calls(call.sid).payments(payment.sid).update({ idempotencyKey: key(), statusCallback: STATUS_CALLBACK, status: "complete" });
out.completed = done.sid;

const fetched = await tw.calls(call.sid).fetch();
out.callStatus = fetched.status;
const listed = await tw.calls.list({ status: "in-progress", limit: 50 });
out.listed = listed.some((c) => c.sid === call.sid);

out.errors = {
  unknownCall: await code(() => tw.calls("CA" + "0".repeat(32)).payments.create({ idempotencyKey: key(), statusCallback: STATUS_CALLBACK })),
  badCapture: await code(() => tw.calls(call.sid).payments(payment.sid).update({ idempotencyKey: key(), statusCallback: STATUS_CALLBACK, capture: "pin-number" })),
  wrongToken: await code(() => client(sid, "0".repeat(32)).calls.list({ limit: 1 })),
};
const ended = await tw.calls(call.sid).update({ status: "completed" });
out.hungUp = ended.status;
console.log(JSON.stringify(out));
