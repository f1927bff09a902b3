// After the build: the React entry's declaration files import the client's declarations from the
// client's own entry (the bundler of declarations writes that import relative to src/).
import { readFileSync, writeFileSync } from "node:fs";

const CLIENT = /from ['"](?:\.\.\/)+index\.js['"]/g;
for (const [file, target] of [
  ["dist/react/index.d.ts", "../index.js"],
  ["dist/react/index.d.cts", "../index.cjs"],
]) {
  const text = readFileSync(file, "utf8");
  if (!CLIENT.test(text)) throw new Error(`${file}: no import of the client's entry to point at ${target}`);
  writeFileSync(file, text.replace(CLIENT, `from '${target}'`));
}
