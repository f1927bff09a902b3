import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", node: "src/node.ts" },
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: false,
  target: "es2022",
  platform: "neutral",
  external: ["ws"],
  treeshake: true,
  // One self-contained file per entry and format: the console vendors dist/index.js as it is.
  splitting: false,
});
