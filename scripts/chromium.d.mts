import type { BrowserContext, Worker } from 'playwright-core';

export declare const ROOT: string;
export declare const CHROMIUM_PATH: string;
export declare const CONNECTOR_ID: string;
export declare const HELLO_WORLD_ID: string;
export declare const DIST: { connector: string; connectorTest: string; helloWorld: string; testClient: string };
export declare const CHROMIUM_FLAGS: string[];
export declare function ensureChromium(): void;
export interface LaunchedChromium {
  context: BrowserContext;
  userDataDir: string;
  close(): Promise<void>;
}
export declare function launchWithExtensions(options: {
  extensions: string[];
  headless?: boolean;
  userDataDir?: string;
  env?: Record<string, string>;
}): Promise<LaunchedChromium>;
export declare function registerNativeHost(
  userDataDir: string,
  host: { name: string; path: string; allowedOrigins: string[]; description?: string },
): string;
export declare function waitForWorker(
  context: BrowserContext,
  extensionId: string,
  timeoutMs?: number,
): Promise<Worker>;
export declare function extensionUrl(extensionId: string, path: string): string;
