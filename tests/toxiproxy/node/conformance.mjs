// The official Node client (toxiproxy-node-client 4.1.0), unmodified, against golive's proxy.
// The assertions follow the client's own spec files (src/tests/*.spec.ts), plus real bytes.
// Usage: node conformance.mjs <api url> <echo host:port>
import assert from "node:assert/strict";
import net from "node:net";
import pkg from "toxiproxy-node-client";

const { Toxiproxy, ToxiproxyError } = pkg;
const [apiUrl, echoAddress] = process.argv.slice(2);
const toxiproxy = new Toxiproxy(apiUrl);
const checks = [];
const check = (name, body) => checks.push({ name, body });

function roundTrip(listen, payload) {
  const [host, port] = listen.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host, () => socket.write(payload));
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk;
      if (received.length >= payload.length) {
        socket.end();
        resolve(received);
      }
    });
    socket.on("error", reject);
  });
}

async function fresh(name) {
  return toxiproxy.createProxy({ name, listen: "127.0.0.1:0", upstream: echoAddress });
}

check("version", async () => {
  assert.equal(await toxiproxy.getVersion(), '{"version": "2.12.0"}\n');
});

check("create, get, getAll, remove", async () => {
  const proxy = await fresh("node-crud");
  assert.equal(proxy.name, "node-crud");
  assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/);
  assert.equal((await toxiproxy.get("node-crud")).upstream, echoAddress);
  assert.ok("node-crud" in (await toxiproxy.getAll()));
  assert.equal(await roundTrip(proxy.listen, "via node"), "via node");
  await proxy.remove();
  await assert.rejects(toxiproxy.get("node-crud"), ToxiproxyError);
});

check("duplicate proxy is rejected", async () => {
  const proxy = await fresh("node-dup");
  await assert.rejects(fresh("node-dup"), /409/);
  await proxy.remove();
});

check("update disables and enables", async () => {
  const proxy = await fresh("node-update");
  const disabled = await proxy.update({ enabled: false });
  assert.equal(disabled.enabled, false);
  const enabled = await disabled.update({ enabled: true });
  assert.equal(enabled.enabled, true);
  await enabled.remove();
});

for (const [type, attributes] of [
  ["latency", { latency: 5, jitter: 1 }],
  ["bandwidth", { rate: 1000 }],
  ["slow_close", { delay: 10 }],
  ["timeout", { timeout: 10 }],
  ["reset_peer", { timeout: 10 }],
  ["slicer", { average_size: 8, size_variation: 2, delay: 10 }],
  ["limit_data", { bytes: 1000 }],
]) {
  check(`toxic ${type}: add, get, update, remove`, async () => {
    const proxy = await fresh(`node-${type}`);
    const toxic = await proxy.addToxic({ type, attributes });
    assert.equal(toxic.name, `${type}_downstream`);
    assert.equal(toxic.stream, "downstream");
    assert.equal(toxic.toxicity, 1);
    assert.deepEqual(toxic.attributes, attributes);
    const read = await proxy.getToxic(toxic.name);
    assert.deepEqual(read.attributes, attributes);
    const first = Object.keys(attributes)[0];
    const updated = await read.update({ attributes: { [first]: attributes[first] + 1 } });
    assert.equal(updated.attributes[first], attributes[first] + 1);
    await assert.rejects(proxy.addToxic({ type, attributes }), /409/);
    await updated.remove();
    await assert.rejects(proxy.getToxic(toxic.name), /404/);
    await proxy.remove();
  });
}

check("populate, and populate with nothing", async () => {
  const proxies = await toxiproxy.populate([
    { name: "node-pop-a", listen: "127.0.0.1:0", upstream: echoAddress },
    { name: "node-pop-b", listen: "127.0.0.1:0", upstream: echoAddress },
  ]);
  assert.deepEqual(Object.keys(proxies).sort(), ["node-pop-a", "node-pop-b"]);
  // Toxiproxy answers {"proxies": null} here and this very call throws; ours answers [].
  assert.deepEqual(await toxiproxy.populate([]), {});
  await toxiproxy.reset();
  for (const proxy of Object.values(proxies)) await proxy.remove();
});

check("reset", async () => {
  const proxy = await fresh("node-reset");
  await proxy.addToxic({ type: "latency", attributes: { latency: 1000 } });
  await proxy.update({ enabled: false });
  await toxiproxy.reset();
  const after = await toxiproxy.get("node-reset");
  assert.equal(after.enabled, true);
  assert.equal(await roundTrip(after.listen, "quick"), "quick");
  await after.remove();
});

let failed = 0;
for (const { name, body } of checks) {
  try {
    await body();
    console.log(`ok ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok ${name}: ${error.message}`);
  }
}
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
