// A real LwM2M client (lwm2m-node-lib 1.4.0, Telefonica) driven by the ingress tests over stdin:
//   node lwm2m_client.js HOST PORT ENDPOINT
// then lines: "set <hex>" (new /19/0/0 value: the client notifies its observers), "update", "quit".
// It prints one JSON line per event ("registered", "updated", "set", "error").
"use strict";
const readline = require("readline");
const client = require("lwm2m-node-lib").client;

const [host, port, endpoint] = process.argv.slice(2);
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
  client.registry.setResource("/19/0", "0", "", () => {
    client.register(host, Number(port), null, endpoint, (error, device) => {
      if (error) return say("error", { message: String(error) });
      say("registered", { location: device.location });
      const lines = readline.createInterface({ input: process.stdin });
      lines.on("line", (line) => {
        const [command, argument] = line.trim().split(" ");
        if (command === "set") {
          // The bytes as a string of code points < 0x80, so they travel as the same bytes.
          const value = Buffer.from(argument, "hex").toString("latin1");
          client.registry.setResource("/19/0", "0", value, () => say("set"));
        } else if (command === "update") {
          client.update(device, (error) => say(error ? "error" : "updated", { message: String(error || "") }));
        } else if (command === "quit") {
          process.exit(0);
        }
      });
    });
  });
});
