/** For the service's unit tests: a client library connection to a ConnectorService through an in-memory port pair. */
import { connect, type Connection } from '../../../client-lib/src/index.js';
import type { ConnectorService } from '../../../src/connector/service.js';
import { createPortPair } from '../../../src/protocol/port.js';

/** Connects as the extension `id` (no pings: the tests move time themselves where they need to). */
export function openClient(
  service: Pick<ConnectorService, 'attachClient'>,
  id: string,
  name: string,
): Promise<Connection> {
  return connect('connector', {
    name,
    pingIntervalMs: 0,
    port: () => {
      const [client, server] = createPortPair(name);
      service.attachClient(server, { id });
      return client;
    },
  });
}
