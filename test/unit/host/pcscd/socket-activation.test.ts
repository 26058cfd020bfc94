/** sd_listen_fds as the host reads it: whose descriptors, how many, and the variables always unset. */
import { describe, expect, it } from 'vitest';
import { SocketActivationError, activationFd, takeListenFds } from '../../../../src/host/pcscd/socket-activation.js';

const PID = 4242;

describe('takeListenFds', () => {
  it('gives fds from 3 on when LISTEN_PID is ours, and unsets the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b', HOME: '/root' };
    expect(takeListenFds(env, PID)).toEqual([3, 4]);
    expect(env).toEqual({ HOME: '/root' });
  });

  it("ignores another process's descriptors (a parent's, inherited by mistake), still unsetting", () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(PID + 1), LISTEN_FDS: '1' };
    expect(takeListenFds(env, PID)).toEqual([]);
    expect(env).toEqual({});
  });

  it('is not activated without both variables, or with a LISTEN_PID that is not a number', () => {
    expect(takeListenFds({ LISTEN_FDS: '1' }, PID)).toEqual([]);
    expect(takeListenFds({ LISTEN_PID: String(PID) }, PID)).toEqual([]);
    expect(takeListenFds({ LISTEN_PID: 'self', LISTEN_FDS: '1' }, PID)).toEqual([]);
  });

  it('refuses a LISTEN_FDS that is not a positive count, without quoting it', () => {
    for (const bad of ['0', '-1', 'x', '', '99999']) {
      const env: NodeJS.ProcessEnv = { LISTEN_PID: String(PID), LISTEN_FDS: bad };
      expect(() => takeListenFds(env, PID)).toThrow(SocketActivationError);
      expect(env).toEqual({});
    }
    expect(() => takeListenFds({ LISTEN_PID: String(PID), LISTEN_FDS: 'secret' }, PID)).toThrow(
      /LISTEN_FDS is not a positive count of descriptors \(6 characters\)/,
    );
  });
});

describe('activationFd', () => {
  it('is the one descriptor, undefined when not activated, an error for more than one (as pcscd)', () => {
    expect(activationFd({ LISTEN_PID: String(PID), LISTEN_FDS: '1' }, PID)).toBe(3);
    expect(activationFd({}, PID)).toBeUndefined();
    expect(() => activationFd({ LISTEN_PID: String(PID), LISTEN_FDS: '2' }, PID)).toThrow(
      /systemd passed 2 sockets; the host serves exactly one/,
    );
  });
});
