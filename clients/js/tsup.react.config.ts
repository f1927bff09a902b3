// The `@myagent/client/react` entry (dist/react/): built apart from the client so that it imports the
// client's own dist files (../index.js, ../index.cjs) instead of bundling a second copy of them: one
// AgentClient class and one Session class whichever entry a program imports them from.
// scripts/react-types.mjs then points the declaration files at ../index.d.ts / ../index.d.cts.
import { defineConfig, type Options } from "tsup";

const CLIENT = /^\.\.\/index\.js$/;

const common: Options = {
  entry: { "react/index": "src/react/index.ts" },
  format: ["esm", "cjs"],
  clean: false,
  sourcemap: false,
  target: "es2022",
  platform: "neutral",
  splitting: false,
};

export default defineConfig([
  {
    ...common,
    dts: false,
    treeshake: false, // tsup's extra tree-shaking pass builds CJS from ESM, which would hide the format below
    external: ["react", "ws"],
    esbuildPlugins: [
      {
        name: "client-entry",
        setup(build) {
          const path = build.initialOptions.format === "cjs" ? "../index.cjs" : "../index.js";
          build.onResolve({ filter: CLIENT }, () => ({ path, external: true }));
        },
      },
    ],
  },
  { ...common, dts: { only: true }, external: ["react", "ws", CLIENT] },
]);
