// The dev server serves the app and passes the lab's endpoints through to the lab server,
// so the browser talks to one origin and the lab server needs no CORS change.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const LAB = process.env.LAB_SERVER_URL ?? 'http://127.0.0.1:8000';
// A handle's `url` carries the secret as ?token=; the proxy wants the bare address.
if (new URL(LAB).search) {
  throw new Error(
    `LAB_SERVER_URL must be the lab server's address alone (a handle's base_url), got ${LAB.split('?')[0]}?...: ` +
      'put the secret in LAB_TOKEN instead',
  );
}

// A lab server with a per-server secret wants it on every request that does work.
// The secret stays on this machine: it is added here, never shipped to the browser.
const token = process.env.LAB_TOKEN;
const toLab = {
  target: LAB,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
};

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    strictPort: true,
    proxy: { '/api': toLab, '/runs': toLab, '/stats': toLab },
  },
  preview: {
    host: '127.0.0.1',
    strictPort: true,
    proxy: { '/api': toLab, '/runs': toLab, '/stats': toLab },
  },
});
