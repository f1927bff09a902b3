import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers: one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
  },
});
