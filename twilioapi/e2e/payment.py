"""The application of payment.mjs, written against Twilio's official Python
helper library (Debian's python3-twilio), unchanged but for where the API
is; its status callbacks are checked with the library's RequestValidator.
TestTwilioPythonSDK (cmd/tonepay) runs it with Debian's python3 and checks
what it prints (one JSON object)."""
import base64
import http.server
import json
import os
import threading
import time
import urllib.parse
import urllib.request

from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

URL = os.environ["TONEPAY_URL"]
SID = os.environ["TONEPAY_ACCOUNT_SID"]
TOKEN = os.environ["TONEPAY_AUTH_TOKEN"]

callbacks = []
actions = []
voice = []


class Receiver(http.server.BaseHTTPRequestHandler):
    """The app's endpoint: status callbacks, a <Pay> IVR's action and an
    inbound IVR's voice webhooks, answered with TwiML from the library's
    builder."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        url = f"http://{self.headers['Host']}{self.path}"
        valid = RequestValidator(TOKEN).validate(url, params, self.headers.get("X-Twilio-Signature", ""))
        got = {"valid": valid, "params": params}
        if self.path.startswith("/voice") or self.path.startswith("/menu"):
            voice.append({"path": self.path, **got})
            twiml = VoiceResponse()
            if self.path.startswith("/voice"):
                twiml.gather(num_digits=1, action="/menu").say("Press 1 for billing.")
            else:
                twiml.say(f"You pressed {params.get('Digits')}.")
                twiml.hangup()
            self.answer(str(twiml))
            return
        if self.path.startswith("/paid"):
            actions.append(got)
            thanks = VoiceResponse()
            thanks.say("Thank you, your payment went through." if params.get("Result") == "success" else "Sorry, it failed.")
            thanks.hangup()
            self.answer(str(thanks))
            return
        callbacks.append(got)
        self.send_response(200)
        self.end_headers()

    def answer(self, twiml):
        body = twiml.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
CALLBACK = f"http://127.0.0.1:{receiver.server_address[1]}/pay?order=1138"


def client(user, password):
    c = Client(user, password)
    c.api.base_url = URL  # the only change from an app on Twilio
    return c


def extension(path, form):
    """Posts form to tonepay's extension API (the simulated caller; Twilio
    has no API for it)."""
    req = urllib.request.Request(
        f"{URL}/_tonepay/Accounts/{SID}/{path}",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()},
    )
    with urllib.request.urlopen(req) as res:
        return json.load(res)


def press(call, digits):
    extension(f"Calls/{call}/Digits", {"Digits": digits})


def until(cond):
    """Waits up to 15 s for cond() to hold."""
    deadline = time.monotonic() + 15
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)


def status(call):
    return tw.calls(call).fetch().status


def code(f):
    """The Twilio error f fails with."""
    try:
        f()
    except TwilioRestException as e:
        return {"status": e.status, "code": e.code}
    return None


tw = client(SID, TOKEN)
out = {}
call = tw.calls.create(to="+15005550006", from_="+15005550001", twiml='<Response><Pause length="3600"/></Response>')
out["call"] = call.sid
n = 0


def key():
    global n
    n += 1
    return f"python-{n}"


create = dict(idempotency_key=key(), status_callback=CALLBACK, charge_amount=19.99, currency="usd", description="order 1138")
payment = tw.calls(call.sid).payments.create(**create)
out["payment"] = payment.sid
out["created"] = {"accountSid": payment.account_sid, "callSid": payment.call_sid, "uri": payment.uri}
# The same request again (a retry): the same session, not a second one.
out["replayed"] = tw.calls(call.sid).payments.create(**create).sid

for field, keys in [
    ("payment-card-number", "4242424242424242#"),
    ("expiration-date", "1230"),
    ("security-code", "737"),
    ("postal-code", "94109#"),
]:
    p = tw.calls(call.sid).payments(payment.sid).update(idempotency_key=key(), status_callback=CALLBACK, capture=field)
    if p.sid != payment.sid:
        raise RuntimeError(f"capture {field}: {p.sid}")
    press(call.sid, keys)
done = tw.calls(call.sid).payments(payment.sid).update(idempotency_key=key(), status_callback=CALLBACK, status="complete")
out["completed"] = done.sid

out["callStatus"] = tw.calls(call.sid).fetch().status
out["listed"] = any(c.sid == call.sid for c in tw.calls.list(status="in-progress", limit=50))

out["errors"] = {
    "unknownCall": code(lambda: tw.calls("CA" + "0" * 32).payments.create(idempotency_key=key(), status_callback=CALLBACK)),
    "badCapture": code(lambda: tw.calls(call.sid).payments(payment.sid).update(
        idempotency_key=key(), status_callback=CALLBACK, capture="pin-number")),
    # A fetch: this library reports a failed list page as a bare TwilioException.
    "wrongToken": code(lambda: client(SID, "0" * 32).calls(call.sid).fetch()),
}
out["hungUp"] = tw.calls(call.sid).update(status="completed").status

# A <Pay> IVR, its TwiML made by the library's builder: the caller pays by
# keypad, the action gets the result and answers with more TwiML.
base = CALLBACK[: CALLBACK.index("/pay")]
ivr = VoiceResponse()
ivr.say("Welcome to Acme billing.")
pay = ivr.pay(charge_amount="20.45", action=f"{base}/paid", timeout=30)
pay.prompt(for_="payment-card-number").say("Please enter your card number, then press pound.")
pay.prompt(for_="security-code", card_type="visa").say("Please enter the three digits on the back of your card.")
ivr_call = tw.calls.create(to="+15005550006", from_="+15005550001", twiml=str(ivr))
for keys in ["4242424242424242#", "1230", "737", "94109#"]:
    press(ivr_call.sid, keys)
until(lambda: actions)
until(lambda: status(ivr_call.sid) == "completed")
out["ivr"] = {"call": ivr_call.sid, "actions": len(actions), "unsigned": sum(1 for a in actions if not a["valid"]),
              "action": actions[0]["params"] if actions else None, "status": status(ivr_call.sid)}

# A number of the app's (IncomingPhoneNumbers) and a caller ringing it
# (tonepay's extension): its VoiceUrl runs a menu, signed as Twilio signs.
number = tw.incoming_phone_numbers.create(phone_number="+14155550123", voice_url=f"{base}/voice")
out["number"] = {"sid": number.sid, "friendlyName": number.friendly_name, "phoneNumber": number.phone_number}
out["number"]["listed"] = any(n.sid == number.sid for n in tw.incoming_phone_numbers.list(limit=50))
out["number"]["updated"] = tw.incoming_phone_numbers(number.sid).update(voice_url=f"{base}/voice?v=2").voice_url
inbound = extension("Calls/Inbound", {"From": "+15005550001", "To": "+14155550123"})
press(inbound["sid"], "1")
until(lambda: status(inbound["sid"]) == "completed")
out["inbound"] = {
    "call": inbound["sid"],
    "status": status(inbound["sid"]),
    "requests": [{"path": v["path"], "valid": v["valid"], "direction": v["params"].get("Direction"),
                  "digits": v["params"].get("Digits", "")} for v in voice],
}
tw.incoming_phone_numbers(number.sid).delete()
out["number"]["gone"] = code(lambda: tw.incoming_phone_numbers(number.sid).fetch())

# The charge's result arrives as a callback of its own.
until(lambda: any("Result" in c["params"] for c in callbacks))
receiver.shutdown()
out["callbacks"] = len(callbacks)
out["unsigned"] = sum(1 for c in callbacks if not c["valid"])
out["result"] = next((c["params"] for c in callbacks if "Result" in c["params"]), None)
print(json.dumps(out))
