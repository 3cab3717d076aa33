import { defineConfig } from "vite";

// Built assets go straight into the Python package, so a released wheel needs no Node.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../src/runlane/ui/static",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2020",
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
