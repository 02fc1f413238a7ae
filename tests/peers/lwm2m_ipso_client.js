// A real LwM2M client (lwm2m-node-lib 1.4.0, Telefonica) with IPSO and OMA objects, driven over stdin:
//   node lwm2m_ipso_client.js HOST PORT ENDPOINT
// It exposes /3/0 (0 Manufacturer, 9 Battery Level), /3303/0 (5700 Sensor Value, 5701 Sensor Units),
// /3304/0 and /3316/0 (5700), registers (LwM2M 1.0), then takes lines "set OBJECT/INSTANCE RESOURCE VALUE"
// (a new value: observers are notified) and "quit". It prints one JSON line per event.
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

const values = [
  ["/3/0", "0", "npm client"],
  ["/3/0", "9", "77"],
  ["/3303/0", "5700", "19.5"],
  ["/3303/0", "5701", "Cel"],
  ["/3304/0", "5700", "51"],
  ["/3316/0", "5700", "3.25"],
];

function create(objects, done) {
  if (!objects.length) return done();
  client.registry.create(objects[0], (error) => {
    if (error) return say("error", { message: String(error) });
    create(objects.slice(1), done);
  });
}

function set(items, done) {
  if (!items.length) return done();
  const [object, resource, value] = items[0];
  client.registry.setResource(object, resource, value, () => set(items.slice(1), done));
}

create(["/3/0", "/3303/0", "/3304/0", "/3316/0"], () =>
  set(values, () => {
    client.register(host, Number(port), null, endpoint, (error, device) => {
      if (error) return say("error", { message: String(error) });
      say("registered", { location: device.location });
      const lines = readline.createInterface({ input: process.stdin });
      lines.on("line", (line) => {
        const [command, object, resource, value] = line.trim().split(" ");
        if (command === "set") {
          client.registry.setResource(`/${object}`, resource, value, () => say("set"));
        } else if (command === "quit") {
          process.exit(0);
        }
      });
    });
  })
);
