// Drives the console in headless Chromium against a running tonepay, as an
// agent would: the app is out of reach before sign-in; a wrong token is an
// error next to the fields and the right one then works without a reload; a
// call, a payment whose next field is always the one primary action, keys
// pressed on the simulated phone, tiles filling in masked; a success with its
// code copied in one click and still there after another call and a reload
// (and above the next payment's form), a decline with its reason, a hang-up
// mid-payment that disables everything, and a phone-sized screen with the
// payment above the keypad; and the call's timeline, by time: what the caller
// heard and did, keys for a card masked and counted, each payment's end, the
// hang-up, the app's words as text; a <Pay> in the TwiML shown as
// self-service, with its progress and result but no agent actions, and its
// banner saying how it ended. Screenshots go to $ARTIFACTS.
// Run by cmd/tonepay's TestConsole with TONEPAY_URL, TONEPAY_ACCOUNT_SID,
// TONEPAY_AUTH_TOKEN and ARTIFACTS set.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { TONEPAY_URL: base, TONEPAY_ACCOUNT_SID: sid, TONEPAY_AUTH_TOKEN: token, ARTIFACTS: out } = process.env;
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "tonepay-chromium-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic"],
  viewport: { width: 1280, height: 800 },
  permissions: ["clipboard-read", "clipboard-write"],
});
let passed = 0, failed = 0;
async function step(name, fn) {
  try { await fn(); passed++; console.log("ok   " + name); }
  catch (err) {
    failed++;
    console.log("FAIL " + name + ": " + err.message.split("\n").slice(0, 3).join(" | "));
    await page.screenshot({ path: join(out, `failed-${failed}.png`), fullPage: true }).catch(() => {});
  }
}
function must(ok, msg) { if (!ok) throw new Error(msg); }
const page = browser.pages()[0] || await browser.newPage();
page.setDefaultTimeout(5000);
const tile = (field) => page.locator(`.tile[data-field="${field}"]`);
const result = page.locator("#result");
async function expectText(locator, re) {
  await locator.filter({ hasText: re }).first().waitFor();
}
// primaryIs checks that the payment panel offers exactly one primary action.
async function primaryIs(name) {
  const primaries = page.locator("#payment button.primary:visible");
  const names = await primaries.allTextContents();
  must(names.length === 1 && names[0] === name, `want one primary action "${name}", have ${JSON.stringify(names)}`);
}
async function typeKeys(keys) {
  await page.getByLabel("Type several keys").fill(keys);
  await page.getByRole("button", { name: "Press" }).click();
}
// capture asks for field (the primary action when it is the next one) and
// plays keys on the phone until the tile says it is captured.
async function capture(field, keys, shown) {
  const ask = tile(field).getByRole("button");
  must(await ask.evaluate((b) => b.classList.contains("primary")), `${field} is not the primary action`);
  await ask.click();
  await expectText(tile(field), /Listening/);
  await typeKeys(keys);
  await expectText(tile(field), /Captured/);
  if (shown) await expectText(tile(field).locator(".value"), shown);
}
async function startPayment() {
  await page.getByRole("button", { name: "Start payment" }).click();
  await expectText(page.locator("#session-status"), /Next: ask for the card number/);
}
// createCall makes a call through the API, as an app would, and picks it
// from the list (before, if given, runs first with its SID).
async function createCall(twiml, live = true, before) {
  const res = await fetch(`${base}/2010-04-01/Accounts/${sid}/Calls.json`, {
    method: "POST",
    headers: { Authorization: "Basic " + Buffer.from(`${sid}:${token}`).toString("base64") },
    body: new URLSearchParams({ To: "+15005550006", From: "+15005550001", ...(twiml.startsWith("<") ? { Twiml: twiml } : { Url: twiml }) }),
  });
  const c = await res.json();
  must(res.status === 201, `create call: HTTP ${res.status} ${JSON.stringify(c)}`);
  if (before) await before(c.sid);
  // The list refreshes every 3 s.
  await page.locator("#call-list button", { hasText: c.sid.slice(0, 10) }).click({ timeout: 8000 });
  if (live) await expectText(page.locator("#call-info"), /● Call in progress/);
  return c.sid;
}
const timeline = page.locator("#timeline-list");
const entry = (kind) => timeline.locator(`li[data-kind="${kind}"]`);
// pageText is what a reader of the page sees, less the SIDs (hex that could
// hold any four digits).
const pageText = () => page.evaluate(() => document.body.innerText.replace(/\b(AC|CA|PK)[0-9a-f]+/g, ""));
const exactly = (text) => new RegExp("^" + text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$");

async function captureCard(number) {
  await capture("payment-card-number", number + "#");
  await capture("expiration-date", "1230", /^12\/30$/);
  await capture("security-code", "123", /^•••$/);
  await capture("postal-code", "94109#", /^94109$/);
}

await step("before sign-in the app is neither visible nor clickable", async () => {
  await page.goto(base + "/console/");
  await page.getByLabel("Auth token or key secret").waitFor();
  for (const sel of ["#app", "#new-call", "#keypad", "#payment", "#whoami"]) must(!(await page.locator(sel).isVisible()), `${sel} is visible`);
  const hit = await page.evaluate(() => {
    for (let x = 5; x < innerWidth; x += 60) for (let y = 5; y < innerHeight; y += 60) {
      const el = document.elementFromPoint(x, y);
      if (el && el.closest("#app")) return `${x},${y}`;
    }
    return "";
  });
  must(!hit, "the app takes clicks at " + hit);
});

await step("a wrong token: an error next to the fields, no login prompt", async () => {
  await page.evaluate(() => { window.sameDocument = true; });
  await page.getByLabel("Account SID or API key SID").fill(sid);
  await page.getByLabel("Auth token or key secret").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  // With the Basic challenge, the request would hang on the browser's prompt.
  await expectText(page.locator("#signin-form #signin-error"), /Wrong SID or token: .*incorrect.*20003/);
  must(await page.getByLabel("Auth token or key secret").getAttribute("aria-invalid") === "true", "the token field is not marked invalid");
  must(!(await page.locator("#app").isVisible()), "the app shows after a wrong token");
  await page.screenshot({ path: join(out, "console-signin-error.png") });
});

await step("then the right token signs in, without a reload", async () => {
  await page.getByLabel("Auth token or key secret").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#live.on").waitFor();
  must(await page.evaluate(() => window.sameDocument === true), "the page was reloaded");
  must(!(await page.locator("#signin").isVisible()), "the sign-in form is still there");
});

await step("create a call and start a payment: the card number is the next step", async () => {
  await page.getByRole("button", { name: "+ New simulated call" }).click();
  await page.locator("#call-list button[aria-current=true]").waitFor();
  await expectText(page.locator("#call-info"), /● Call in progress/);
  await primaryIs("Start payment");
  await page.getByLabel("Amount").fill("49.99");
  await startPayment();
  await expectText(page.locator("#session-what"), /Charge 49\.99 USD/);
  must(await page.locator(".tile").count() === 4, "want 4 field tiles");
  must(await page.getByRole("button", { name: "Process payment" }).isDisabled(), "Process payment enabled too early");
  await primaryIs("Ask the caller");
  await expectText(tile("payment-card-number"), /Next: ask the caller/);
});

await step("the keypad reaches the call", async () => {
  await tile("payment-card-number").getByRole("button").click();
  await expectText(tile("payment-card-number"), /Listening/);
  for (const k of "4242") await page.locator("#keypad").getByRole("button", { name: k, exact: true }).click();
  await expectText(tile("payment-card-number"), /4 digits so far/);
  await page.screenshot({ path: join(out, "console-capturing.png") });
});

await step("every field captured, masked, with brand and progress", async () => {
  await typeKeys("424242424242#");
  await expectText(tile("payment-card-number").locator(".value"), /^•••• 4242$/);
  await expectText(tile("payment-card-number"), /✓.*Captured · Visa/);
  await expectText(page.locator("#card-brand"), /^Visa•••• 4242$/);
  await expectText(page.locator("#session-status"), /1 of 4 captured · Next: ask for the expiry date/);
  must(await page.locator("#progress-bar").getAttribute("aria-valuenow") === "1", "progress is not 1");
  await capture("expiration-date", "1230", /^12\/30$/);
  await capture("security-code", "123", /^•••$/);
  await capture("postal-code", "94109#", /^94109$/);
  await expectText(page.locator("#session-status"), /All 4 captured · Ready to process/);
  await primaryIs("Process payment");
  must(!(await page.content()).includes("4242424242424242"), "the full card number is on the page");
});

let code = "";
await step("a success is the most prominent thing, its code copied in one click", async () => {
  await page.getByRole("button", { name: "Process payment" }).click();
  await expectText(result.locator(".title"), /^Succeeded$/);
  await expectText(result.locator(".what"), /^49\.99 USD charged to Visa •••• 4242$/);
  code = await page.locator("#code").textContent();
  must(/^ch_\w+$/.test(code), "confirmation code " + code);
  const [r, t] = [await result.boundingBox(), await page.locator("#tiles").boundingBox()];
  must(r.y < t.y, "the result is below the tiles");
  must(await page.evaluate(() => document.activeElement.id) === "result", "the result does not have the focus");
  await page.getByRole("button", { name: "Copy" }).click();
  await expectText(page.locator("#copy-status"), /Copied/);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  must(copied === code, `copied ${copied}, want ${code}`);
  must(await page.getByRole("button", { name: "Process payment" }).isHidden(), "Process payment still offered");
  await page.screenshot({ path: join(out, "console-success.png") });
});

// Issue 20: an agent who clicked away, or reloaded, lost the code and could
// charge the customer twice.
await step("the outcome stays: on the call's timeline, after another call and back, after a reload", async () => {
  const payCall = (await page.locator("#call-list button[aria-current=true]").getAttribute("data-focus")).slice("call:".length);
  await createCall('<Response><Pause length="3600"/></Response>');
  await primaryIs("Start payment");
  must(await result.isHidden(), "another call shows the first call's result");
  await page.locator(`#call-list button[data-focus="call:${payCall}"]`).click();
  await expectText(result.locator(".title"), /^Succeeded$/);
  await expectText(page.locator("#code"), exactly(code));
  await expectText(entry("payment").locator(".line"), exactly(`Payment: success · confirmation code ${code} · Visa •••• 4242`));
  await page.reload();
  await page.locator("#live.on").waitFor();
  await expectText(page.locator("#call-list button[aria-current=true]"), payCall.slice(0, 10));
  await expectText(result.locator(".title"), /^Succeeded$/);
  await expectText(result.locator(".what"), /^49\.99 USD charged to Visa •••• 4242$/);
  await expectText(page.locator("#code"), exactly(code));
  await expectText(entry("payment").locator(".line"), exactly(`Payment: success · confirmation code ${code} · Visa •••• 4242`));
  must(await page.getByRole("button", { name: "New payment" }).isEnabled(), "New payment is not offered");
  must(await page.getByRole("button", { name: "Start payment" }).isHidden(), "Start payment is offered under the result");
  await page.screenshot({ path: join(out, "console-reloaded.png") });
});

await step("an invalid entry shows its error in its tile; the last payment stays in sight", async () => {
  await page.getByRole("button", { name: "New payment" }).click();
  await expectText(page.locator("#last-payment"), exactly(`Last payment on this call: ✓ Succeeded · 49.99 USD charged to Visa •••• 4242 · Confirmation code ${code}`));
  await startPayment();
  must(await page.locator("#last-payment").isHidden(), "the last payment shows over a new one");
  await tile("payment-card-number").getByRole("button").click();
  await typeKeys("4242424242424241#");
  await expectText(tile("payment-card-number"), /✗.*Error: not a valid card number/);
});

await step("a declined card: Declined, with the reason", async () => {
  await captureCard("4000000000000002");
  await page.getByRole("button", { name: "Process payment" }).click();
  await expectText(result.locator(".title"), /^Declined$/);
  await expectText(result.locator(".what"), /49\.99 USD not charged to Visa •••• 0002/);
  await expectText(result.locator(".reason"), /Your card was declined.*64012.*card_declined/);
  must(await result.locator(".code").isHidden(), "a declined payment shows a code");
  await page.screenshot({ path: join(out, "console-declined.png") });
});

await step("a hang-up mid-payment: call ended, every action off", async () => {
  await page.getByRole("button", { name: "New payment" }).click();
  await startPayment();
  await capture("payment-card-number", "4242424242424242#", /^•••• 4242$/);
  await page.getByRole("button", { name: "Hang up" }).click();
  await expectText(result.locator(".title"), /^Call ended$/);
  await expectText(result.locator(".what"), /hung up/);
  await expectText(page.locator("#call-info"), /■ Call ended/);
  await expectText(page.locator("#call-list button[aria-current=true]"), /■ Ended/);
  await expectText(tile("expiration-date"), /Not captured/);
  for (const b of await page.locator("#tiles button").all()) must(await b.isDisabled(), "a tile's button is enabled");
  must(await page.getByRole("button", { name: "New payment" }).isDisabled(), "New payment is enabled on an ended call");
  await expectText(page.locator("#again-note"), /call has ended/);
  for (const b of await page.locator("#keypad button").all()) must(await b.isDisabled(), "a key is enabled");
  must(await page.getByRole("button", { name: "Hang up" }).isDisabled(), "Hang up is enabled");
  must(await page.locator("#process").isHidden() || await page.locator("#process").isDisabled(), "Process payment is offered");
  must(await page.locator("#cancel").isHidden() || await page.locator("#cancel").isDisabled(), "Cancel payment is offered");
  await page.screenshot({ path: join(out, "console-hung-up.png") });
});

await step("on a phone: the payment above the keypad, both in sight while capturing", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "+ New simulated call" }).click();
  await expectText(page.locator("#call-info"), /● Call in progress/);
  await startPayment();
  await tile("payment-card-number").getByRole("button").click();
  await expectText(tile("payment-card-number"), /Listening/);
  await page.evaluate(() => scrollTo(0, 0));
  const inView = (b) => b && b.y >= 0 && b.y + b.height <= 844 && b.x >= 0 && b.x + b.width <= 390;
  const pay = await page.locator("#payment").boundingBox();
  const phone = await page.locator("#phone").boundingBox();
  const keypad = await page.locator("#keypad").boundingBox();
  const card = await tile("payment-card-number").boundingBox();
  must(pay.y < keypad.y, "the keypad comes before the payment");
  must(inView(keypad), `the keypad is not on screen: ${JSON.stringify(keypad)}`);
  must(inView(card) && card.y + card.height <= phone.y, `the card tile is not in sight above the keypad: ${JSON.stringify(card)}`);
  for (const k of "4242") await page.locator("#keypad").getByRole("button", { name: k, exact: true }).click();
  await expectText(tile("payment-card-number"), /4 digits so far/);
  await page.screenshot({ path: join(out, "console-phone.png") });
});

await step("cancel", async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "Cancel payment" }).click();
  await expectText(result.locator(".title"), /^Cancelled$/);
});

// The timeline of a call its TwiML runs, as the agent sees it. The calls are
// created through the API, as an app would, and picked from the list.

await step("the timeline shows what the caller heard, step by step", async () => {
  await createCall('<Response><Say>Welcome to Acme</Say><Gather numDigits="1" timeout="30"><Say>Press 1 to pay</Say></Gather><Say>Bye</Say></Response>');
  must(await page.locator("#timeline-box").evaluate((d) => d.open), "the timeline is folded on a wide screen");
  await expectText(entry("say").first(), /“Welcome to Acme”/);
  await expectText(entry("say").first().locator(".detail"), /en-US/);
  await expectText(entry("verb"), /<Gather>/);
  await expectText(entry("say").nth(1), /Press 1 to pay/);
  await expectText(page.locator("#timeline-sum"), /● Live · 3 steps/);
  await primaryIs("Start payment");
});

await step("keys typed into a card field are masked in the timeline", async () => {
  await startPayment();
  await tile("payment-card-number").getByRole("button").click();
  await expectText(tile("payment-card-number"), /Listening/);
  for (const k of "4242") await page.locator("#keypad").getByRole("button", { name: k, exact: true }).click();
  await expectText(tile("payment-card-number"), /4 digits so far/);
  // One press, one row: four presses of one key each.
  await expectText(entry("key").nth(3).locator(".line"), /^Key: 1 \(masked\)$/);
  must(await entry("key").count() === 4, `want 4 key rows, have ${await entry("key").count()}`);
  for (const l of await entry("key").locator(".line").allTextContents()) must(l === "Key: 1 (masked)", "a key row reads " + l);
  await expectText(entry("key").first().locator(".detail"), /<Gather>/);
  // Thirty keys at once: one row, counted.
  await typeKeys("0".repeat(30));
  await expectText(entry("key").nth(4).locator(".line"), /^Keys: 30 \(masked\)$/);
  const text = await pageText();
  must(!text.includes("4242"), "the page shows the digits typed: " + text.slice(0, 200));
  // SIDs and timestamps are free digits (a datetime's nanoseconds may well hold 4242).
  const html = (await page.content()).replace(/\b(AC|CA|PK)[0-9a-f]+/g, "").replace(/datetime="[^"]*"/g, "");
  must(!html.includes("4242"), "the page's HTML holds the digits typed: …" + JSON.stringify(html.slice(html.indexOf("4242") - 300, html.indexOf("4242") + 50)));
  await page.screenshot({ path: join(out, "console-timeline.png"), fullPage: true });
});

await step("a hung-up call's timeline: the hang-up, then the payment it ended; and it stops", async () => {
  await page.getByRole("button", { name: "Hang up" }).click();
  await expectText(timeline.locator("li").last(), /^.*Payment: caller-hung-up/);
  await expectText(timeline.locator("li").nth(-2), /Hung up · completed/);
  await expectText(page.locator("#timeline-sum"), /■ Ended/);
  const n = await timeline.locator("li").count();
  const seen = [];
  const watch = (r) => { if (r.url().includes("/Timeline")) seen.push(r.url()); };
  page.on("request", watch);
  await page.waitForTimeout(1500);
  page.off("request", watch);
  must(seen.length === 0, "still polling an ended call: " + seen.join(" "));
  must(await timeline.locator("li").count() === n, "entries after the hang-up");
});

await step("the app's words are shown as text, never as HTML; a call that hangs up by itself ends", async () => {
  await createCall('<Response><Say>&lt;img src=x onerror="window.pwned=1"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</Say><Gather numDigits="1" timeout="30"/><Say>Bye</Say></Response>');
  await expectText(entry("say").first(), /<img src=x onerror="window.pwned=1"> & <b>bold<\/b>/);
  must(await page.locator("#timeline img, #timeline b").count() === 0, "an entry was rendered as HTML");
  must(await page.evaluate(() => window.pwned === undefined), "the entry's script ran");
  // Outside a payment the caller's key goes to the Gather: shown as pressed.
  await page.locator("#keypad").getByRole("button", { name: "1", exact: true }).click();
  await expectText(entry("key").locator(".line"), /^Key: 1$/);
  await expectText(timeline.locator("li").last(), /Hung up/);
  await expectText(entry("say").last(), /“Bye”/);
  await expectText(page.locator("#call-info"), /■ Call ended/);
});

await step("the caller says words: a <Gather input=\"speech\"> takes them, the timeline shows them", async () => {
  await createCall('<Response><Gather input="speech" timeout="30"><Say>Say agent</Say></Gather><Say>You spoke</Say><Pause length="30"/></Response>');
  await page.getByLabel("Say something").fill("I want an agent");
  await page.getByRole("button", { name: "Say", exact: true }).click();
  await expectText(entry("speech").locator(".line"), /^Said: I want an agent$/);
  await expectText(entry("verb"), /<Gather> ended: SpeechResult=I want an agent Confidence=0\.9/);
  await expectText(entry("say").last(), /“You spoke”/);
  // Nobody listens now (a <Pause>): dropped, and the phone says so.
  await page.getByLabel("Say something").fill("hello?");
  await page.getByRole("button", { name: "Say", exact: true }).click();
  await expectText(page.locator("#phone-error"), /dropped/);
  await expectText(entry("speech").last().locator(".line"), /^Said: hello\? \(dropped: /);
  await page.getByRole("button", { name: "Hang up" }).click();
  await expectText(timeline.locator("li").last(), /Hung up/);
});

await step("a fetch that fails: method, URL, the error with its Twilio code, the hang-up", async () => {
  await createCall("http://127.0.0.1:1/voice", false);
  await expectText(entry("fetch"), /POST http:\/\/127\.0\.0\.1:1\/voice/);
  await expectText(entry("error"), /Error 11205: .*refused/);
  await page.locator('#timeline a[href="https://www.twilio.com/docs/api/errors/11205"]').first().waitFor();
  await expectText(entry("say"), /application error has occurred/);
  await expectText(timeline.locator("li").last(), /Hung up · completed · error 11205/);
  await expectText(page.locator("#call-info"), /■ Call ended/);
});

await step("a call on a reserved domain holds, and the timeline says why", async () => {
  await createCall("https://example.com/voice");
  await expectText(entry("warning"), /Warning: .*example\.com.*holds/);
  await expectText(page.locator("#timeline-sum"), /● Live · 1 step · Warning/);
  await page.getByRole("button", { name: "Hang up" }).click();
  await expectText(timeline.locator("li").last(), /Hung up/);
});

// A <Pay> in the call's TwiML: the IVR asks the caller, the agent watches.
await step("a <Pay> session is self-service: its progress masked, no agent actions, then its result", async () => {
  await createCall('<Response><Pay chargeAmount="5.00" timeout="30"/></Response>');
  await expectText(page.locator("#self-service"), /^Self-service <Pay>: the caller is paying by keypad$/);
  await expectText(page.locator("#session-what"), /^Charge 5\.00 USD$/);
  await expectText(tile("payment-card-number"), /Asked now · Listening: 0 digits so far/);
  must(await page.locator("#tiles button").count() === 0, "a tile offers an agent action");
  for (const name of ["Start payment", "Ask the caller", "Process payment", "Cancel payment"]) {
    must(await page.getByRole("button", { name }).isHidden(), name + " is offered");
  }
  must(await page.locator("#payment button.primary:visible").count() === 0, "the payment offers a primary action");
  for (const k of "4242") await page.locator("#keypad").getByRole("button", { name: k, exact: true }).click();
  await expectText(tile("payment-card-number"), /4 digits so far/);
  await typeKeys("424242424242#");
  await expectText(tile("payment-card-number").locator(".value"), /^•••• 4242$/);
  await expectText(tile("payment-card-number"), /Captured · Visa/);
  await expectText(tile("expiration-date"), /Asked now/);
  await expectText(page.locator("#session-status"), /1 of 4 captured · The caller is typing the expiry date/);
  await page.screenshot({ path: join(out, "console-pay.png") });
  await typeKeys("1230");
  await expectText(tile("expiration-date").locator(".value"), /^12\/30$/);
  await typeKeys("123");
  await expectText(tile("security-code").locator(".value"), /^•••$/);
  must(!(await page.evaluate(() => document.body.textContent)).includes("4242424242424242"), "the full card number is on the page");
  await typeKeys("94105#");
  await expectText(result.locator(".title"), /^Succeeded$/);
  await expectText(result.locator(".what"), /^5\.00 USD charged to Visa •••• 4242$/);
  const payCode = await page.locator("#code").textContent();
  must(/^ch_\w+$/.test(payCode), "no confirmation code");
  await expectText(page.locator("#self-service"), /^Self-service <Pay> ended: Succeeded$/);
  await expectText(entry("payment").locator(".line"), exactly(`<Pay> payment: success · confirmation code ${payCode} · Visa •••• 4242`));
  must(!(await page.evaluate(() => document.body.textContent)).includes("4242424242424242"), "the full card number is on the page");
  await page.screenshot({ path: join(out, "console-pay-success.png") });
});

// A webhook's entry is written when its answer arrives, after entries of
// later steps may have been: the server cannot be made to race on cue, so
// the timeline's answer is played here, with seq 3 written late.
await step("the timeline is in time order, whatever order the entries were written in", async () => {
  const entries = [
    { seq: 1, at: "2026-01-02T03:04:05.000000001Z", kind: "say", text: "First" },
    { seq: 2, at: "2026-01-02T03:04:07Z", kind: "say", text: "Third" },
    { seq: 3, at: "2026-01-02T03:04:05.000000002Z", kind: "webhook", text: "call progress: in-progress", status: 200, method: "POST", url: "https://hooks.example.com/p" },
    { seq: 4, at: "2026-01-02T03:04:07Z", kind: "say", text: "Fourth" },
  ];
  await createCall('<Response><Pause length="3600"/></Response>', false, (call) =>
    page.route(`**/_tonepay/Accounts/${sid}/Calls/${call}/Timeline?*`, (route) => route.fulfill({ status: 200, contentType: "application/json",
      body: JSON.stringify({ call_sid: call, status: "completed", entries: new URL(route.request().url()).searchParams.get("After") === "0" ? entries : [], next_after: 4 }) })));
  await expectText(timeline.locator("li").nth(3), /Fourth/);
  const lines = await timeline.locator("li .line").allTextContents();
  const want = ["“First”", "call progress: in-progress · HTTP 200", "“Third”", "“Fourth”"];
  must(JSON.stringify(lines) === JSON.stringify(want), `timeline ${JSON.stringify(lines)}, want ${JSON.stringify(want)}`);
  must(JSON.stringify(await timeline.locator("li").evaluateAll((ls) => ls.map((l) => l.dataset.seq))) === '["1","3","2","4"]', "not ordered by time, then seq");
  await page.unrouteAll();
});

// TestConsole streams a call in as Twilio would (a signed Media Stream
// whose start names From and To) and passes its SID: a real caller's call.
await step("a call streamed from Twilio is listed like any other and takes a payment; its keys come from the phone", async () => {
  const call = process.env.STREAMED_CALL;
  must(call, "STREAMED_CALL is not set");
  const b = page.locator("#call-list button", { hasText: call.slice(0, 10) });
  await b.click({ timeout: 8000 });
  await expectText(b, /\+15005550077 → \+15005550088/);
  await expectText(page.locator("#call-info"), /● Call in progress/);
  await startPayment();
  await tile("payment-card-number").getByRole("button").click();
  await expectText(tile("payment-card-number"), /Listening/);
  await page.locator("#keypad").getByRole("button", { name: "4", exact: true }).click();
  await expectText(page.locator("#phone-error"), /real call/);
  await page.screenshot({ path: join(out, "console-streamed-call.png") });
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
