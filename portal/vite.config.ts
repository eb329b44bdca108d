import { fileURLToPath } from 'node:url';
import { vitePlugin as remix } from '@remix-run/dev';
import { defineConfig } from 'vite';

declare module '@remix-run/node' {
  interface Future {
    v3_singleFetch: true;
  }
}

const inPortal = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

// The Vite root stays the repo root: `remix vite:build` passes the cwd as the root (overriding this
// config), and the Remix plugin reads package.json from the root. So every portal path is absolute.
export default defineConfig({
  root: inPortal('..'),
  // Keep a future repo-level public/ or Vite cache from leaking into, or out of, the portal build.
  publicDir: inPortal('public'),
  cacheDir: inPortal('.cache'),
  build: {
    rollupOptions: {
      // Resource routes (the replay progress JSON, POST-only logouts) have no client code: their empty chunks are expected.
      onwarn(warning, warn) {
        if (warning.code !== 'EMPTY_BUNDLE') warn(warning);
      },
    },
  },
  plugins: [
    remix({
      appDirectory: inPortal('app'),
      buildDirectory: inPortal('build'),
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_singleFetch: true,
        v3_lazyRouteDiscovery: true,
      },
    }),
  ],
});
