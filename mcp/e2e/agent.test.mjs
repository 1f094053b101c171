// An agent's payment turn against tonepay's MCP server, driven by the
// official TypeScript SDK's client (not the Go SDK tonepay is built on):
// over streamable HTTP to serve's /mcp with Basic auth, and over stdio to
// `tonepay mcp`. Run by cmd/tonepay's TestMCPTypeScriptClient, which starts
// the server and a simulated call and passes them in the environment:
// TONEPAY_URL, TONEPAY_ACCOUNT_SID, TONEPAY_AUTH_TOKEN, TONEPAY_BIN, CALL_SID.
// It prints everything the client received, for the Go test to scan for
// card data, after a line "RECEIVED"; it exits non-zero on a failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const env = process.env;
const call = env.CALL_SID;
const received = [];

function check(ok, what) {
  if (!ok) throw new Error(what);
}

// connect opens a session over transport, and keeps what it is notified of.
async function connect(transport) {
  const client = new Client({ name: "tonepay-ts-agent", version: "1.0.0" });
  const updates = [];
  let wake = () => {};
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    received.push(n);
    updates.push(n.params.uri);
    wake();
  });
  await client.connect(transport);
  // next waits for the next notification of uri.
  const next = async (uri) => {
    const deadline = Date.now() + 15000;
    for (;;) {
      const i = updates.indexOf(uri);
      if (i >= 0) {
        updates.splice(0, i + 1);
        return;
      }
      check(Date.now() < deadline, `no notification of ${uri}`);
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 250);
      });
    }
  };
  return { client, next };
}

async function tool(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  received.push(res);
  check(!res.isError, `${name}: ${JSON.stringify(res.content)}`);
  return res.structuredContent;
}

async function read(client, uri) {
  const res = await client.readResource({ uri });
  received.push(res);
  return JSON.parse(res.contents[0].text);
}

// pay takes a card payment of amount (each run its own: the same
// arguments would give back the same payment): the agent asks for each field, the test
// presses the caller's keys (press_keys), and waits on the resource.
async function pay(label, amount, transport) {
  const { client, next } = await connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  for (const t of ["list_calls", "start_payment", "request_field", "payment_status", "complete_payment", "press_keys"]) {
    check(tools.includes(t), `${label}: no tool ${t} in ${tools}`);
  }
  const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  check(templates.includes("payment://{CallSid}/{PaymentSid}"), `${label}: templates ${templates}`);
  const prompt = await client.getPrompt({ name: "take_payment", arguments: { call_sid: call, amount: "7.50" } });
  received.push(prompt);
  check(prompt.messages[0].content.text.includes(call), `${label}: prompt`);

  const calls = await tool(client, "list_calls", {});
  check(calls.calls.some((c) => c.call_sid === call && c.leg === "simulated"), `${label}: list_calls ${JSON.stringify(calls)}`);
  const bad = await client.callTool({ name: "start_payment", arguments: { call_sid: call, charge_amount: "1.2.3" } });
  check(bad.isError && bad.content[0].text.includes("64003") && bad.content[0].text.includes("charge_amount"), `${label}: bad amount ${JSON.stringify(bad)}`);

  const { payment_sid: pk } = await tool(client, "start_payment", { call_sid: call, charge_amount: amount, currency: "usd" });
  const uri = `payment://${call}/${pk}`;
  await client.subscribeResource({ uri });
  const fields = [
    ["payment-card-number", "4242424242424242#", "expiry date"],
    ["expiration-date", "1230#", "security code"],
    ["security-code", "739#", "postal code"],
    ["postal-code", "94105#", "Everything is captured"],
  ];
  for (const [field, keys, want] of fields) {
    await tool(client, "request_field", { call_sid: call, payment_sid: pk, field });
    await tool(client, "press_keys", { call_sid: call, keys });
    for (;;) {
      await next(uri);
      const st = await read(client, uri);
      if (st.next.includes(want)) break;
    }
  }
  await tool(client, "complete_payment", { call_sid: call, payment_sid: pk });
  let st;
  do {
    await next(uri);
    st = await read(client, uri);
  } while (st.status !== "ended");
  check(st.result === "success" && st.captured["payment-card-number"] === "xxxxxxxxxxxx4242" && st.confirmation_code, `${label}: ${JSON.stringify(st)}`);
  await client.close();
  console.log(`${label}: paid, ${pk}, ${st.confirmation_code}`);
}

const auth = "Basic " + Buffer.from(`${env.TONEPAY_ACCOUNT_SID}:${env.TONEPAY_AUTH_TOKEN}`).toString("base64");
try {
  await pay("http", "7.50", new StreamableHTTPClientTransport(new URL(env.TONEPAY_URL + "/mcp"), { requestInit: { headers: { Authorization: auth } } }));
  await pay(
    "stdio",
    "8.25",
    new StdioClientTransport({
      command: env.TONEPAY_BIN,
      args: ["mcp"],
      env: { TONEPAY_SERVER: env.TONEPAY_URL, TONEPAY_ACCOUNT_SID: env.TONEPAY_ACCOUNT_SID, TONEPAY_AUTH_TOKEN: env.TONEPAY_AUTH_TOKEN },
    }),
  );
} catch (e) {
  console.log("FAILED:", e.stack || e);
  process.exitCode = 1;
}
console.log("RECEIVED");
console.log(JSON.stringify(received));
