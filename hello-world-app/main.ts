/**
 * The hello-world page: "Run" connects to the connector through the client library and runs the classic sample
 * (sample.ts), one log line per step. Each run opens its own connection, so a connector that restarted in between is
 * simply met anew.
 */
import { connect, describePcscError } from '../client-lib/src/index.js';
import { connectorIdFrom } from './config.js';
import { runHelloWorld, SampleFailed } from './sample.js';

const runButton = document.getElementById('run') as HTMLButtonElement;
const logList = document.getElementById('log') as HTMLOListElement;
const status = document.getElementById('status') as HTMLParagraphElement;
const connectorId = connectorIdFrom(location.search);
(document.getElementById('connector-id') as HTMLElement).textContent = connectorId;

function log(line: string, kind?: 'error' | 'hello'): void {
  const li = document.createElement('li');
  li.textContent = line;
  if (kind) li.className = kind;
  logList.append(li);
  console.log(`[hello-world] ${line}`);
}

function setStatus(text: string, kind: 'ok' | 'failed' | 'running'): void {
  status.textContent = text;
  status.className = kind;
}

async function run(): Promise<void> {
  runButton.disabled = true;
  logList.replaceChildren();
  setStatus('Running…', 'running');
  let connection: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    log(`Connecting to the connector ${connectorId}…`);
    try {
      connection = await connect(connectorId, { name: 'Smart card hello world' });
    } catch (e) {
      const reason = describePcscError(e);
      log(`Could not reach the connector: ${reason}`, 'error');
      throw new SampleFailed('connect', reason);
    }
    log('Connected to the connector.');
    const text = await runHelloWorld(connection, {
      log: (line) =>
        log(line, line === 'Hello world!' ? 'hello' : /^SCard\w+.*: SCARD_/.test(line) ? 'error' : undefined),
      describeError: describePcscError,
    });
    setStatus(`Done: the card said “${text}”`, 'ok');
  } catch (e) {
    if (!(e instanceof SampleFailed)) log(`Unexpected failure: ${describePcscError(e)}`, 'error');
    setStatus('Failed: see the log above.', 'failed');
  } finally {
    connection?.close();
    runButton.disabled = false;
  }
}

runButton.addEventListener('click', () => void run());
