import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The React bindings import the core by its package name; tests use the sources.
    alias: [
      { find: /^@myagent\/client$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^@myagent\/client\/node$/, replacement: fileURLToPath(new URL("./src/node.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "src/**/*.test.tsx"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers: one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    pool: "forks",
    // The browser-style tests use the global WebSocket (built into Node ≥ 22, behind a flag in Node 20).
    poolOptions: { forks: { execArgv: "WebSocket" in globalThis ? [] : ["--experimental-websocket"] } },
  },
});
