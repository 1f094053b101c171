// Drives the console in headless Chromium against a running tonepay:
// sign in, create a call, start a payment, request each field, press the keys
// on the simulated phone, watch the tiles fill in masked, process the payment
// and see it succeed; then a declined card. Screenshots go to $ARTIFACTS.
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
});
let passed = 0, failed = 0;
async function step(name, fn) {
  try { await fn(); passed++; console.log("ok   " + name); }
  catch (err) { failed++; console.log("FAIL " + name + ": " + err.message); }
}
const page = browser.pages()[0] || await browser.newPage();
page.setDefaultTimeout(10000);
const tile = (field) => page.locator(`.tile[data-field="${field}"]`);
async function expectText(locator, re) {
  await locator.filter({ hasText: re }).first().waitFor();
}
async function capture(field, keys, masked) {
  await tile(field).getByRole("button").click();
  await expectText(tile(field), /Capturing/);
  await page.getByLabel("Type several keys").fill(keys);
  await page.getByRole("button", { name: "Press" }).click();
  await expectText(tile(field), /Captured/);
  if (masked) await expectText(tile(field).locator(".value"), masked);
}

await step("sign in", async () => {
  await page.goto(base + "/console/");
  await page.getByLabel("Account SID or API key SID").fill(sid);
  await page.getByLabel("Auth token or key secret").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#live.on").waitFor();
});

await step("create a call and start a payment", async () => {
  await page.getByRole("button", { name: "+ New simulated call" }).click();
  await page.locator("#call-list button[aria-current=true]").waitFor();
  await page.getByLabel("Amount").fill("49.99");
  await page.getByRole("button", { name: "Start payment" }).click();
  await expectText(page.locator("#session-status"), /Charge 49.99 USD/);
  if (await page.locator(".tile").count() !== 4) throw new Error("want 4 field tiles");
  if (!(await page.getByRole("button", { name: "Process payment" }).isDisabled())) throw new Error("Process payment enabled too early");
});

await step("the keypad reaches the call", async () => {
  await tile("payment-card-number").getByRole("button").click();
  for (const k of "4242") await page.locator("#keypad").getByRole("button", { name: k, exact: true }).first().click();
  await expectText(tile("payment-card-number"), /4 digits so far/);
  await page.screenshot({ path: join(out, "console-capturing.png") });
});

await step("capture every field, masked", async () => {
  await page.getByLabel("Type several keys").fill("424242424242#");
  await page.getByRole("button", { name: "Press" }).click();
  await expectText(tile("payment-card-number").locator(".value"), /^x{12}4242$/);
  await expectText(tile("payment-card-number"), /Captured \(visa\)/);
  await capture("expiration-date", "1230", /^1230$/);
  await capture("security-code", "123", /^xxx$/);
  await capture("postal-code", "94109#", /^94109$/);
  const html = await page.content();
  if (html.includes("4242424242424242")) throw new Error("the full card number is on the page");
});

await step("process the payment and see success", async () => {
  await page.getByRole("button", { name: "Process payment" }).click();
  await expectText(page.locator("#result"), /Payment succeeded\. Confirmation code ch_/);
  await page.screenshot({ path: join(out, "console-success.png") });
});

await step("an invalid entry shows its error in words", async () => {
  await page.getByRole("button", { name: "New payment" }).click();
  await page.getByRole("button", { name: "Start payment" }).click();
  await tile("payment-card-number").getByRole("button").click();
  await page.getByLabel("Type several keys").fill("4242424242424241#");
  await page.getByRole("button", { name: "Press" }).click();
  await expectText(tile("payment-card-number"), /Error: not a valid card number/);
});

await step("a declined card", async () => {
  await capture("payment-card-number", "4000000000000002#", /^x{12}0002$/);
  await capture("expiration-date", "1230");
  await capture("security-code", "123");
  await capture("postal-code", "94109#");
  await page.getByRole("button", { name: "Process payment" }).click();
  await expectText(page.locator("#result"), /refused the payment.*Your card was declined.*64012.*card_declined/);
  await page.screenshot({ path: join(out, "console-declined.png") });
});

await step("usable on a narrow phone screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("#keypad").scrollIntoViewIfNeeded();
  const box = await page.locator("#keypad").boundingBox();
  if (!box || box.width > 390) throw new Error("the keypad does not fit");
  await page.screenshot({ path: join(out, "console-narrow.png"), fullPage: true });
});

await step("cancel", async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "New payment" }).click();
  await page.getByRole("button", { name: "Start payment" }).click();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expectText(page.locator("#result"), /cancelled/);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
