/**
 * Launching Debian's Chromium with unpacked extensions through playwright-core: shared by `npm start`
 * (scripts/start.mjs) and the end-to-end tests (test/e2e). Plain JavaScript so that Node runs it as it is;
 * chromium.d.mts gives its types.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { extensionIdFromKey } from './extension-id.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Fixed by the "key" of manifest.json (ngfkfjneanfndnjljhacboedojhajjdi), derived as the host derives it. */
export const CONNECTOR_ID = extensionIdFromKey(JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')).key);
/** Fixed by the "key" of hello-world-app/manifest.json. */
export const HELLO_WORLD_ID = 'nkaebjccgmdndbjihmnjcbcpfadgjgdp';

export const DIST = {
  connector: join(ROOT, 'dist', 'connector'),
  connectorTest: join(ROOT, 'dist', 'connector-test'),
  helloWorld: join(ROOT, 'dist', 'hello-world-app'),
  testClient: join(ROOT, 'dist', 'test-client'),
};

/** The flags these machines need (no GPU, no sandbox in containers, no background traffic). */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
];

/** Runs scripts/ensure-chromium.sh (installs Chromium as root when missing); throws with its message otherwise. */
export function ensureChromium() {
  try {
    execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: ['ignore', 'inherit', 'pipe'] });
  } catch (e) {
    const stderr = e && typeof e === 'object' && 'stderr' in e ? String(e.stderr) : String(e);
    throw new Error(stderr.trim() || 'Chromium is not available (scripts/ensure-chromium.sh failed)', { cause: e });
  }
}

/**
 * Launches Chromium with the given unpacked extension folders in a fresh temporary profile (or in `userDataDir`, which
 * the caller then owns and removes). `env` is Chromium's environment, and so that of the native messaging hosts it
 * starts (default: this process's).
 * @param {{ extensions: string[], headless?: boolean, userDataDir?: string, env?: Record<string, string> }} options
 */
export async function launchWithExtensions(options) {
  const userDataDir = options.userDataDir ?? mkdtempSync(join(tmpdir(), 'scc-chromium-'));
  const list = options.extensions.join(',');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: options.headless ?? true,
    args: [`--disable-extensions-except=${list}`, `--load-extension=${list}`, ...CHROMIUM_FLAGS],
    viewport: { width: 900, height: 700 },
    ...(options.env ? { env: options.env } : {}),
  });
  return {
    context,
    userDataDir,
    async close() {
      await context.close().catch(() => {});
      if (!options.userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Registers a native messaging host in a Chromium profile, as Chromium looks it up first on Linux:
 * `<user-data-dir>/NativeMessagingHosts/NAME.json` (then /etc/chromium/native-messaging-hosts/, which tests leave
 * alone). `path` must be absolute and executable. Returns the manifest's path.
 * @param {string} userDataDir
 * @param {{ name: string, path: string, allowedOrigins: string[], description?: string }} host
 */
export function registerNativeHost(userDataDir, host) {
  const dir = join(userDataDir, 'NativeMessagingHosts');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${host.name}.json`);
  const manifest = {
    name: host.name,
    description: host.description ?? host.name,
    path: host.path,
    type: 'stdio',
    allowed_origins: host.allowedOrigins,
  };
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

/**
 * The service worker of an extension, once it is running.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} extensionId
 * @param {number} [timeoutMs]
 */
export async function waitForWorker(context, extensionId, timeoutMs = 15_000) {
  const prefix = `chrome-extension://${extensionId}/`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const worker = context.serviceWorkers().find((w) => w.url().startsWith(prefix));
    if (worker) return worker;
    const left = deadline - Date.now();
    if (left <= 0) {
      const seen = context.serviceWorkers().map((w) => w.url());
      throw new Error(
        `the service worker of extension ${extensionId} did not start (workers: ${seen.join(', ') || 'none'})`,
      );
    }
    await context.waitForEvent('serviceworker', { timeout: Math.min(left, 1000) }).catch(() => {});
  }
}

/** chrome-extension://<id>/<path> */
export function extensionUrl(extensionId, path) {
  return `chrome-extension://${extensionId}/${path}`;
}
