/**
 * End to end (1): the released connector and the hello-world app in Chromium. The demo reader is turned on from the
 * connector's page, the app's Run button runs the classic sample through the client library, and the card answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchRig,
  openConnectorPage,
  openHelloWorld,
  openTestClient,
  runHelloWorld,
  screenshot,
  turnDemoOn,
  until,
  CONNECTOR_ID,
  type Rig,
} from './harness.js';

describe('hello world through the connector extension', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'release' });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('tells the user when no reader is there, and goes on when the demo reader is plugged in', async () => {
    const app = await openHelloWorld(rig);
    await app.getByRole('button', { name: 'Run' }).click();
    await app
      .getByText(/waiting for one \(SCardGetStatusChange on \\\\\?PnP\?\\Notification\)/)
      .waitFor({ timeout: 15_000 });
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    await app.locator('#status.ok, #status.failed').waitFor({ timeout: 30_000 });
    const lines = await app.locator('#log li').allTextContents();
    expect(lines).toContain('Hello world!');
    await app.close();
    await connector.close();
  }, 60_000);

  it('runs the classic sample: establish, list, connect, SELECT, 00 00 00 00 → Hello world!', async () => {
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    await expect(connector.locator('.reader[data-state="ready"] .badge').first().textContent()).resolves.toBe('Ready');
    await screenshot(connector, 'connector-demo-ready');

    const app = await openHelloWorld(rig);
    const { ok, lines } = await runHelloWorld(app);
    await screenshot(app, 'hello-world-done');
    expect(ok, lines.join('\n')).toBe(true);
    expect(lines).toEqual([
      `Connecting to the connector ${CONNECTOR_ID}…`,
      'Connected to the connector.',
      'SCardEstablishContext: Command successful.',
      'SCardListReaders: Command successful. (1 reader)',
      'reader name: Gemalto PC Twin Reader 00 00',
      'SCardConnect: Command successful. (protocol T=1)',
      '> 00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01',
      'SCardTransmit (SELECT): Command successful.',
      'response: 90 00',
      '> 00 00 00 00',
      'SCardTransmit (hello): Command successful.',
      'response: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 90 00',
      'SCardDisconnect: Command successful.',
      'SCardReleaseContext: Command successful.',
      'Hello world!',
    ]);
    // A second run works as well (its own connection, contexts released by the first).
    expect((await runHelloWorld(app)).ok).toBe(true);
    await app.close();
    await connector.close();
  }, 60_000);

  it('counts connected apps on the connector page, live', async () => {
    const connector = await openConnectorPage(rig);
    const count = connector.locator('#apps-count');
    const before = Number(await count.textContent());
    const client = await openTestClient(rig);
    await client.evaluate(async (id) => {
      const g = globalThis as unknown as { lib: { connect(id: string, o: object): Promise<unknown> }; conn?: unknown };
      g.conn = await g.lib.connect(id, { name: 'e2e counting app' });
    }, CONNECTOR_ID);
    await until(async () => Number(await count.textContent()) === before + 1, 'the count to go up');
    await expect(connector.locator('#apps li').allTextContents()).resolves.toEqual(
      expect.arrayContaining([expect.stringContaining('e2e counting app')]),
    );
    await screenshot(connector, 'connector-one-app');
    await client.close();
    await until(async () => Number(await count.textContent()) === before, 'the count to go down');
    await connector.close();
  }, 60_000);
});
