import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "../magpie/http/ui/dist", emptyOutDir: true, target: "es2022" },
});
