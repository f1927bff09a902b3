import { existsSync } from "node:fs";
import { defineConfig, type Options } from "tsup";

const common: Options = {
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: false,
  target: "es2022",
  platform: "neutral",
  treeshake: true,
  // One self-contained file per entry and format: the console vendors dist/index.js as it is.
  splitting: false,
};

/**
 * The other entries import the core as "@myagent/client" (kept external): one copy of it at run time,
 * so a session made through one entry is the same class in another. The React bindings (src/react/)
 * are built when present.
 */
const react = ["src/react/index.ts", "src/react/index.tsx"].find((file) => existsSync(file));
const entries: Record<string, string> = { node: "src/node.ts", ...(react === undefined ? {} : { react }) };

export default defineConfig([
  { ...common, entry: { index: "src/index.ts" }, clean: true },
  { ...common, entry: entries, external: ["@myagent/client", "ws", "react", "react-dom"] },
]);
