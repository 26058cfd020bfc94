/**
 * systemd socket activation (sd_listen_fds(3)): a `.socket` unit creates and listens on pcscd's socket, then starts
 * the service with the listening descriptors from fd 3 on, `LISTEN_FDS` = their number and `LISTEN_PID` = the
 * service's pid (a descriptor passed to a child that did not re-check the pid is not its own). As sd_listen_fds with
 * unset_environment set, the variables are removed whatever they held, so programs we start never see them.
 *
 * pcscd 1.9.9 (pcscdaemon.c) takes exactly one descriptor and refuses more ("Too many file descriptors received");
 * so does the host.
 */

/** SD_LISTEN_FDS_START: the first passed descriptor. */
export const SD_LISTEN_FDS_START = 3;

export class SocketActivationError extends Error {
  override name = 'SocketActivationError';
}

/**
 * The listening descriptors systemd passed to this process: [] when not socket-activated (no LISTEN_PID, or another
 * process's). Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. Throws SocketActivationError on a LISTEN_FDS that is
 * not a positive count.
 */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number[] {
  const listenPid = env['LISTEN_PID'];
  const listenFds = env['LISTEN_FDS'];
  delete env['LISTEN_PID'];
  delete env['LISTEN_FDS'];
  delete env['LISTEN_FDNAMES'];
  if (listenPid === undefined || listenFds === undefined) return [];
  if (!/^\d+$/.test(listenPid) || Number(listenPid) !== pid) return [];
  if (!/^\d{1,4}$/.test(listenFds) || Number(listenFds) < 1) {
    throw new SocketActivationError(
      `LISTEN_FDS is not a positive count of descriptors (${listenFds.length} characters): check the .socket unit`,
    );
  }
  return Array.from({ length: Number(listenFds) }, (_, i) => SD_LISTEN_FDS_START + i);
}

/** The one descriptor pcscd's place takes, or undefined when not socket-activated; more than one is an error. */
export function activationFd(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | undefined {
  const fds = takeListenFds(env, pid);
  if (fds.length > 1) {
    throw new SocketActivationError(
      `systemd passed ${fds.length} sockets; the host serves exactly one (one ListenStream= in the .socket unit)`,
    );
  }
  return fds[0];
}
