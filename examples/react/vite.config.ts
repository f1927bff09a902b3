import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the built example can be served from any path (the browser test serves dist/).
  base: "./",
  esbuild: { jsx: "automatic" },
  // @myagent/client is a file: dependency (a link to clients/js), whose own node_modules hold a React for
  // its tests: one React for the whole page, or hooks break. Its React entry imports the core by the
  // package's own name, resolved from here too.
  resolve: { dedupe: ["react", "react-dom", "@myagent/client"] },
  build: { chunkSizeWarningLimit: 1200 },
});
