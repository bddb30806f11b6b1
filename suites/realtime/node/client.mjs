// One pusher-js client, driven by pytest (suites/realtime/driver.py) over stdin and stdout.
//
// stdin, one JSON object a line:
//   - the first line is the configuration (on stdin, not argv: it holds a JWT)
//       { key, wsHost, wsPort, sut, token?, channels: [{ name, bind?: [event names] }],
//         signin?: bool, userEvents?: [event names], timeoutMs?: number }
//   - every later line is a command
//       { op: "trigger", channel, event, data }   a client event (channel.trigger)
//       { op: "disconnect" }                      pusher.disconnect(), then exit 0
//     End of input is a disconnect too, so the client never outlives the test that started it.
//
// stdout, one JSON object a line, each an observation ("type" says which):
//   connected {socket_id} · subscribed {channel, members?, me?} · subscription_error {channel, error}
//   signed_in {user_data} · signin_error {error} · ready (every channel and the sign-in settled)
//   event {channel, event, data, metadata} · member_added / member_removed {channel, member}
//   user_event {event, data} · triggered {channel, event, ok, error?} · state {previous, current}
//   connection_error {error}
//   error {message} (then exit 1, or 2 on the deadline) · closed {code}
// pusher-js's own log goes to stderr, so nothing but these lines reaches stdout.

import { createInterface } from 'node:readline';

import Pusher from 'pusher-js';

const DEFAULT_TIMEOUT_MS = 20_000;

const emit = (observation) => process.stdout.write(`${JSON.stringify(observation)}\n`);
Pusher.log = (message) => process.stderr.write(`pusher-js: ${message}\n`);

const lines = createInterface({ input: process.stdin });
let pusher = null;
let deadline = null;
let closing = false;

function shutdown(code) {
  if (closing) return;
  closing = true;
  clearTimeout(deadline);
  pusher?.disconnect();
  emit({ type: 'closed', code });
  lines.close();
  process.stdin.destroy();
  process.exitCode = code;
  // Normally the loop empties once the WebSocket's close handshake is done and Node exits by
  // itself; this (unref'd: it keeps nothing alive) bounds the wait if something lingers.
  setTimeout(() => process.exit(code), 2_000).unref();
}

function fail(message, code = 1) {
  if (closing) return;
  emit({ type: 'error', message });
  shutdown(code);
}

process.on('uncaughtException', (error) => fail(`uncaught: ${error?.stack ?? error}`));
process.on('unhandledRejection', (error) => fail(`unhandled rejection: ${error?.stack ?? error}`));

// pusher-js errors are mostly plain objects ({type, data: {code, message}}); the WebSocket's
// own error events are not, and may be circular.
const plain = (value) => {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return String(value);
  }
};

const members = (channel) => {
  const all = {};
  channel.members.each((member) => {
    all[member.id] = member.info;
  });
  return all;
};

function start(config) {
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  deadline = setTimeout(() => fail(`deadline: no disconnect command within ${timeoutMs} ms`, 2), timeoutMs);

  const headers = config.token ? { Authorization: `Bearer ${config.token}` } : {};
  pusher = new Pusher(config.key, {
    cluster: 'mt1', // required by pusher-js; wsHost/wsPort below take precedence
    wsHost: config.wsHost,
    wsPort: config.wsPort,
    forceTLS: false,
    enabledTransports: ['ws'],
    // 'ajax' is what browsers use; in Node, pusher-js brings its own XMLHttpRequest for it.
    channelAuthorization: { endpoint: `${config.sut}/pusher/auth`, transport: 'ajax', headers },
    userAuthentication: { endpoint: `${config.sut}/pusher/user-auth`, transport: 'ajax', headers },
  });

  // "ready" once every subscription has succeeded or failed, and the sign-in (if asked for) is done.
  const pending = new Set(config.channels.map((spec) => spec.name));
  let signinPending = Boolean(config.signin);
  let ready = false; // said once: a reconnection settles everything again
  const settled = (name) => {
    if (name !== undefined) pending.delete(name);
    if (pending.size === 0 && !signinPending && !ready && !closing) {
      ready = true;
      emit({ type: 'ready' });
    }
  };

  pusher.connection.bind('state_change', ({ previous, current }) => {
    emit({ type: 'state', previous, current });
    if (current === 'connected') emit({ type: 'connected', socket_id: pusher.connection.socket_id });
    // 'failed' means no transport can work here: pusher-js stops trying, so should we.
    if (current === 'failed') fail('pusher-js connection failed: no supported transport');
  });
  pusher.connection.bind('error', (error) => emit({ type: 'connection_error', error: plain(error) }));

  for (const spec of config.channels) {
    const channel = pusher.subscribe(spec.name);
    const bound = new Set(spec.bind ?? []);
    channel.bind('pusher:subscription_succeeded', () => {
      const observation = { type: 'subscribed', channel: spec.name };
      if (channel.members) Object.assign(observation, { members: members(channel), me: channel.members.me });
      emit(observation);
      settled(spec.name);
    });
    channel.bind('pusher:subscription_error', (error) => {
      emit({ type: 'subscription_error', channel: spec.name, error });
      settled(spec.name);
    });
    channel.bind('pusher:member_added', (member) => {
      emit({ type: 'member_added', channel: spec.name, member });
    });
    channel.bind('pusher:member_removed', (member) => {
      emit({ type: 'member_removed', channel: spec.name, member });
    });
    // Events named in `bind` are bound one by one, as an application does: only such callbacks
    // get the metadata (the sender's user_id of a client event on a presence channel).
    for (const event of bound) {
      channel.bind(event, (data, metadata) => {
        emit({ type: 'event', channel: spec.name, event, data, metadata: metadata ?? null });
      });
    }
    // Every other event is reported too, so a test sees what it did not expect.
    channel.bind_global((event, data) => {
      if (event.startsWith('pusher:') || event.startsWith('pusher_internal:') || bound.has(event)) return;
      emit({ type: 'event', channel: spec.name, event, data, metadata: null });
    });
  }

  if (config.signin) {
    for (const event of config.userEvents ?? []) {
      pusher.user.bind(event, (data) => emit({ type: 'user_event', event, data }));
    }
    pusher.user.bind('pusher:signin_error', (error) => emit({ type: 'signin_error', error }));
    pusher.signin();
    // Resolved on success and on failure alike; user_data tells which.
    pusher.user.signinDonePromise.then(() => {
      const userData = pusher.user.user_data;
      if (userData == null) {
        signinPending = false;
        settled();
        return;
      }
      emit({ type: 'signed_in', user_data: userData });
      // Events sent to the user travel on #server-to-user-<id>, which pusher-js subscribes to
      // right after signing in: only once that succeeds can send_to_user reach this client.
      // (Binding now is in time: the subscription's answer needs a round trip.)
      pusher.user.serverToUserChannel.bind('pusher:subscription_succeeded', () => {
        signinPending = false;
        settled();
      });
    });
  }

  settled(); // no channels and no sign-in: nothing to wait for
}

function command(message) {
  switch (message.op) {
    case 'trigger': {
      // `ok` is pusher-js's answer: whether the event went out on the socket.
      const observation = { type: 'triggered', channel: message.channel, event: message.event, ok: false };
      const channel = pusher.channel(message.channel);
      try {
        observation.ok = channel ? channel.trigger(message.event, message.data) : false;
      } catch (error) {
        observation.error = error.message; // e.g. BadEventName: only client- events may be sent
      }
      emit(observation);
      break;
    }
    case 'disconnect':
      shutdown(0);
      break;
    default:
      fail(`unknown command: ${JSON.stringify(message)}`);
  }
}

lines.on('line', (line) => {
  if (closing || line.trim() === '') return;
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    fail(`stdin: not JSON: ${line.slice(0, 200)}`);
    return;
  }
  if (pusher === null) start(message);
  else command(message);
});
lines.on('close', () => shutdown(0));
