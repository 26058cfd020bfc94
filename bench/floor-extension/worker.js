// The floor under any connector's per-call cost (issue 14): a service worker that does nothing but echo each message
// of an external port back on the same port. No build step, no imports: what an empty extension worker costs to start
// and to answer a chrome.runtime port message. Its id is fixed by the "key" of manifest.json.
/* global chrome */
chrome.runtime.onConnectExternal.addListener((port) => {
  port.onMessage.addListener((message) => port.postMessage(message));
});
