import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build lands in the Python package, where the API server serves it.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../src/overture/server/static/", import.meta.url)),
    emptyOutDir: true,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
