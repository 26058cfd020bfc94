/// <reference types="chrome" />
/** The hello-world app's worker: the toolbar button opens the app's page. */
chrome.action.onClicked.addListener(() => {
  void chrome.tabs.create({ url: chrome.runtime.getURL('index.html') });
});
