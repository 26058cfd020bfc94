/**
 * What the connector's window says about itself. The project's address lives here and nowhere else: null until the
 * repository is published (the window then shows no link rather than a placeholder address that someone could claim).
 */
export const PROJECT_URL: string | null = null;

export const LICENCE_TEXT =
  'This project is licensed under the Apache License, version 2.0. The pcsc-lite daemon and the libccid driver were ' +
  'read for facts only (protocols, error codes, reader quirks); no code was taken from them.';
