// An application written against Twilio's official Node.js helper library
// (twilio on npm), unchanged but for where the API is: it places a call,
// takes an agent-assisted card payment on it, receives its status callbacks
// and checks each signature with the library's validateRequest, reads the
// call back, meets Twilio's errors, runs a <Pay> IVR whose TwiML the
// library's builder writes, and has a caller ring a number of its own. The
// caller (keys, ringing) is played through tonepay's extension API, the one
// thing Twilio has no API for. TestTwilioNodeSDK (cmd/tonepay) runs it and
// checks what it prints (one JSON object).
import http from "node:http";
import twilio from "twilio";

const { TONEPAY_URL, TONEPAY_ACCOUNT_SID: sid, TONEPAY_AUTH_TOKEN: token } = process.env;

// The app's endpoint: status callbacks, a <Pay> IVR's action and an inbound
// IVR's voice webhooks, answered with TwiML from the library's builder.
const callbacks = [];
const actions = [];
const voice = [];
const receiver = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const params = Object.fromEntries(new URLSearchParams(body));
    const url = `http://${req.headers.host}${req.url}`;
    const got = { valid: twilio.validateRequest(token, req.headers["x-twilio-signature"], url, params), params };
    if (req.url.startsWith("/voice") || req.url.startsWith("/menu")) {
      voice.push({ path: req.url, ...got });
      const twiml = new twilio.twiml.VoiceResponse();
      if (req.url.startsWith("/voice")) {
        twiml.gather({ numDigits: 1, action: "/menu" }).say("Press 1 for billing.");
      } else {
        twiml.say(`You pressed ${params.Digits}.`);
        twiml.hangup();
      }
      res.setHeader("Content-Type", "text/xml");
      res.end(twiml.toString());
      return;
    }
    if (req.url.startsWith("/paid")) {
      actions.push(got);
      const thanks = new twilio.twiml.VoiceResponse();
      thanks.say(params.Result === "success" ? "Thank you, your payment went through." : "Sorry, it failed.");
      thanks.hangup();
      res.setHeader("Content-Type", "text/xml");
      res.end(thanks.toString());
      return;
    }
    callbacks.push(got);
    res.end();
  });
});
await new Promise((ready) => receiver.listen(0, "127.0.0.1", ready));
const STATUS_CALLBACK = `http://127.0.0.1:${receiver.address().port}/pay?order=1138`;

function client(user, password) {
  const c = twilio(user, password);
  c.api.baseUrl = TONEPAY_URL; // the only change from an app on Twilio
  return c;
}

// extension posts form to tonepay's extension API (the simulated caller).
async function extension(path, form) {
  const res = await fetch(`${TONEPAY_URL}/_tonepay/Accounts/${sid}/${path}`, {
    method: "POST",
    headers: { Authorization: "Basic " + Buffer.from(`${sid}:${token}`).toString("base64") },
    body: new URLSearchParams(form),
  });
  if (res.status >= 300) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

const press = (call, digits) => extension(`Calls/${call}/Digits`, { Digits: digits });

// until waits up to 15 s for cond (async or not) to hold.
async function until(cond) {
  for (const end = Date.now() + 15000; Date.now() < end; ) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
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

// A <Pay> IVR, its TwiML made by the library's builder: the caller pays
// by keypad, the action gets the result and answers with more TwiML.
const base = STATUS_CALLBACK.slice(0, STATUS_CALLBACK.indexOf("/pay"));
const ivr = new twilio.twiml.VoiceResponse();
ivr.say("Welcome to Acme billing.");
const pay = ivr.pay({ chargeAmount: "20.45", action: `${base}/paid`, timeout: 30 });
pay.prompt({ for: "payment-card-number" }).say("Please enter your card number, then press pound.");
pay.prompt({ for: "security-code", cardType: "visa" }).say("Please enter the three digits on the back of your card.");
const ivrCall = await tw.calls.create({ to: "+15005550006", from: "+15005550001", twiml: ivr.toString() });
for (const keys of ["4242424242424242#", "1230", "737", "94109#"]) await press(ivrCall.sid, keys);
const status = async (sid) => (await tw.calls(sid).fetch()).status;
await until(() => actions.length > 0);
await until(async () => (await status(ivrCall.sid)) === "completed");
out.ivr = { call: ivrCall.sid, actions: actions.length, unsigned: actions.filter((a) => !a.valid).length, action: actions[0]?.params };
out.ivr.status = await status(ivrCall.sid);

// A number of the app's (IncomingPhoneNumbers) and a caller ringing it
// (tonepay's extension): its VoiceUrl runs a menu, signed as Twilio signs.
const number = await tw.incomingPhoneNumbers.create({ phoneNumber: "+14155550123", voiceUrl: `${base}/voice` });
out.number = { sid: number.sid, friendlyName: number.friendlyName, phoneNumber: number.phoneNumber };
out.number.listed = (await tw.incomingPhoneNumbers.list({ limit: 50 })).some((n) => n.sid === number.sid);
out.number.updated = (await tw.incomingPhoneNumbers(number.sid).update({ voiceUrl: `${base}/voice?v=2` })).voiceUrl;
const inbound = await extension("Calls/Inbound", { From: "+15005550001", To: "+14155550123" });
await press(inbound.sid, "1");
await until(async () => (await status(inbound.sid)) === "completed");
out.inbound = {
  call: inbound.sid,
  status: await status(inbound.sid),
  requests: voice.map((v) => ({ path: v.path, valid: v.valid, direction: v.params.Direction, digits: v.params.Digits || "" })),
};
await tw.incomingPhoneNumbers(number.sid).remove();
out.number.gone = await code(() => tw.incomingPhoneNumbers(number.sid).fetch());

// The charge's result arrives as a callback of its own.
await until(() => callbacks.some((c) => c.params.Result));
receiver.close();
out.callbacks = callbacks.length;
out.unsigned = callbacks.filter((c) => !c.valid).length;
out.result = callbacks.find((c) => c.params.Result)?.params;
console.log(JSON.stringify(out));
