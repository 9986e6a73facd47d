// node --require ./polyfill.cjs server.mjs   (PORT, DATABASE_URL, PG_POOL_MAX from the environment)
// Copied from the read-path issue's peer setup; only the printed address changed.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => { console.error(e); process.exit(1); });
serv.addTo(server).catch((e) => { console.error(e); process.exit(1); });
// PORT=0: the kernel picks a free port, printed here (run.sh reads it).
const port = Number(process.env.PORT ?? 18085);
server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on http://127.0.0.1:${server.address().port}/graphql`));
if (process.env.PRINT_SCHEMA) {
  const { printSchema } = await import("postgraphile/graphql");
  const schema = await pgl.getSchema();
  const fs = await import("node:fs");
  fs.writeFileSync(process.env.PRINT_SCHEMA, printSchema(schema));
  console.log("schema written to", process.env.PRINT_SCHEMA);
}
