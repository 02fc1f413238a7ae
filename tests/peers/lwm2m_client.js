// A real LwM2M client (lwm2m-node-lib 1.4.0, Telefonica) driven by the ingress tests over stdin:
//   node lwm2m_client.js HOST PORT ENDPOINT [INITIAL_HEX]
// (INITIAL_HEX: /19/0/0's value before registering, answered to the platform's observe), then lines:
// "set <hex>" (new /19/0/0 value: the client notifies its observers), "update", "deregister", "quit".
// It prints one JSON line per event ("registered", "updated", "set", "written", "deregistered", "error");
// "written" (with LWM2M_WRITES=1 in its environment, which also creates /19/1) for each write to /19/1/0.
"use strict";
const readline = require("readline");
const client = require("lwm2m-node-lib").client;

const [host, port, endpoint, initial] = process.argv.slice(2);
const latin1 = (hex) => Buffer.from(hex || "", "hex").toString("latin1");
const say = (event, extra) => console.log(JSON.stringify(Object.assign({ event }, extra || {})));

client.init({
  client: {
    lifetime: "300",
    version: "1.0",
    logLevel: "FATAL",
    observe: { period: 600000 },
    ipProtocol: "udp4",
    serverProtocol: "udp4",
    formats: [{ name: "application-vnd-oma-lwm2m/text", value: 1541 }],
    writeFormat: "application-vnd-oma-lwm2m/text",
  },
});

client.registry.create("/19/0", (error) => {
  if (error) return say("error", { message: String(error) });
  // With LWM2M_WRITES=1: /19/1 exists and each write to it is printed ("written").
  const writes = process.env.LWM2M_WRITES === "1";
  if (writes) client.registry.create("/19/1", () => client.registry.setResource("/19/1", "0", "", () => {}));
  client.registry.setResource("/19/0", "0", latin1(initial), () => {
    client.register(host, Number(port), null, endpoint, (error, device) => {
      if (error) return say("error", { message: String(error) });
      say("registered", { location: device.location });
      if (writes) client.setHandler(device.serverInfo, "write", (objectType, objectId, resourceId, value, callback) => {
        const hex = Buffer.from(String(value), "latin1").toString("hex");
        say("written", { path: `/${objectType}/${objectId}/${resourceId}`, hex });
        callback(null);
      });
      const lines = readline.createInterface({ input: process.stdin });
      lines.on("line", (line) => {
        const [command, argument] = line.trim().split(" ");
        if (command === "set") {
          // The bytes as a string of code points < 0x80, so they travel as the same bytes.
          const value = Buffer.from(argument, "hex").toString("latin1");
          client.registry.setResource("/19/0", "0", value, () => say("set"));
        } else if (command === "update") {
          client.update(device, (error) => say(error ? "error" : "updated", { message: String(error || "") }));
        } else if (command === "deregister") {
          client.unregister(device, (error) => say(error ? "error" : "deregistered", { message: String(error || "") }));
        } else if (command === "quit") {
          process.exit(0);
        }
      });
    });
  });
});
