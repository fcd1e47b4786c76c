// The published stream-chat SDK, unchanged, against a running gateway: the end-to-end scenario of
// ../shared/reference/stream-chat-protocol.md section 5, plus the heartbeat, a forged token and one user seen
// across dialects. Run by Tests/Stream/StreamSdkTests.cs, which starts the gateway and sets the environment:
//   BASE (http://127.0.0.1:port), KEY, SECRET, GRACE_MS, PNUT_ALICE, PNUT_CAROL (pnut tokens), IDLE_MS.
// Prints "ok <step>" per step; any failure exits with code 1 and says why.
'use strict';
const assert = require('node:assert/strict');
const { StreamChat } = require('stream-chat');

const { BASE, KEY, SECRET } = process.env;
const GRACE_MS = Number(process.env.GRACE_MS ?? 2000);
const IDLE_MS = Number(process.env.IDLE_MS ?? 70000);
// Patience for a request or an event that must come: generous, as a full test run shares 2 cores with it; a step
// that never comes still fails, only later.
const PATIENCE_MS = 30000;
const opts = { baseURL: BASE, allowServerSideConnect: true, timeout: PATIENCE_MS };
const waitFor = (client, type, pred, ms) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => { sub.unsubscribe(); reject(new Error(`timeout waiting for ${type}`)); }, ms);
  const sub = client.on(type, (e) => { if (pred(e)) { clearTimeout(timer); sub.unsubscribe(); resolve(e); } });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ok = (step) => console.log(`ok ${step}`);
const pnut = async (method, path, token, body) => {
  const response = await fetch(`${BASE}${path}`, {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()).data;
};

async function main() {
  const admin = new StreamChat(KEY, SECRET, { baseURL: BASE, timeout: PATIENCE_MS });
  const tA = admin.createToken('alice'), tB = admin.createToken('bob');
  await admin.upsertUsers([{ id: 'alice', name: 'Alice' }, { id: 'bob', name: 'Bob' }]);
  ok('upsertUsers with a server token');

  // 1. connect both: the first frame is health.check with connection_id and the full own user.
  const A = new StreamChat(KEY, opts), B = new StreamChat(KEY, opts);
  const openA = await A.connectUser({ id: 'alice', name: 'Alice' }, tA);
  assert.equal(openA.type, 'health.check');
  assert.ok(openA.connection_id);
  assert.equal(A.user.id, 'alice');
  assert.equal(A.user.name, 'Alice');
  assert.ok(Array.isArray(A.mutedChannels) && Array.isArray(A.mutedUsers));
  await B.connectUser({ id: 'bob', name: 'Bob' }, tB);
  ok('connectUser');

  // 2. A queries B with presence: online, and watched from now on.
  const { users } = await A.queryUsers({ id: { $in: ['bob'] } }, { last_active: -1 }, { presence: true });
  assert.equal(users[0].id, 'bob');
  assert.equal(users[0].online, true);
  assert.equal(A.state.users.bob.online, true);
  ok('queryUsers with presence');

  // 3. channel.watch with presence: members with their presence.
  const ch = A.channel('messaging', 'room1', { members: ['alice', 'bob'] });
  const st = await ch.watch({ presence: true });
  assert.equal(st.channel.cid, 'messaging:room1');
  assert.equal(ch.state.members.bob.user.online, true);
  assert.ok(ch.state.watcher_count >= 1, `watcher_count ${ch.state.watcher_count}`);
  ok('channel.watch with presence');

  // 4. B disconnects: after the grace, A hears bob offline, with the whole user.
  const offline = waitFor(A, 'user.presence.changed', (e) => e.user.id === 'bob' && e.user.online === false, GRACE_MS + PATIENCE_MS);
  await B.disconnectUser();
  const ev = await offline;
  assert.equal(ev.user.name, 'Bob');
  assert.equal(A.state.users.bob.online, false);
  assert.equal(ch.state.members.bob.user.online, false);
  assert.equal(ch.state.members.bob.user.name, 'Bob');
  ok('offline after the grace, full user');

  // 5. B reconnects invisible: A never hears it online; then visible again through partialUpdateUser.
  let sawOnline = false;
  const s = A.on('user.presence.changed', (e) => { if (e.user.id === 'bob' && e.user.online) sawOnline = true; });
  const B2 = new StreamChat(KEY, opts);
  const openB2 = await B2.connectUser({ id: 'bob', name: 'Bob', invisible: true }, tB);
  assert.equal(openB2.me.invisible, true);
  await sleep(1500);
  s.unsubscribe();
  assert.equal(sawOnline, false);
  assert.equal((await A.queryUsers({ id: 'bob' }, {}, { presence: true })).users[0].online, false);
  ok('invisible on connect');

  // Across dialects: bob invisible through Stream is offline through pnut too.
  const bobInPnut = await pnut('GET', '/v1/users/bob/presence', process.env.PNUT_ALICE);
  assert.equal(bobInPnut.presence, 'offline');
  ok('invisible through Stream is offline through pnut');

  const visible = waitFor(A, 'user.presence.changed', (e) => e.user.id === 'bob' && e.user.online === true, PATIENCE_MS);
  const updated = waitFor(B2, 'user.updated', (e) => e.user.id === 'bob', PATIENCE_MS);
  await B2.partialUpdateUser({ id: 'bob', set: { invisible: false } });
  await visible;
  await updated;
  assert.equal(B2.user.invisible, false);
  ok('visible again with partialUpdateUser');

  // Across dialects: carol set online through pnut is online through Stream, with her presence events.
  await pnut('PUT', '/v1/users/me/presence', process.env.PNUT_CAROL, { presence: 'online' });
  const carol = (await A.queryUsers({ id: { $eq: 'carol' } }, {}, { presence: true })).users[0];
  assert.equal(carol.id, 'carol');
  assert.equal(carol.online, true);
  const carolAway = waitFor(A, 'user.presence.changed', (e) => e.user.id === 'carol' && e.user.online === false, PATIENCE_MS);
  await pnut('PUT', '/v1/users/me/presence', process.env.PNUT_CAROL, { presence: 'offline' });
  await carolAway;
  ok('set through pnut, seen through Stream');

  // A token signed with another secret is refused the way the SDK understands (no retry, code 43).
  const forged = new StreamChat(KEY, opts);
  const wrong = new StreamChat(KEY, 'another-secret-that-is-long-enough-0123456789', { baseURL: BASE }).createToken('mallory');
  await assert.rejects(forged.connectUser({ id: 'mallory' }, wrong), (e) => {
    const error = JSON.parse(e.message); // the SDK's rejection: {"code","StatusCode","message","isWSFailure"}
    return error.code === 43 && error.StatusCode === 401 && error.isWSFailure === false;
  });
  ok('a token with a wrong secret is refused');

  // 6. heartbeat: A idle for more than a minute keeps its connection (the server answers its pings).
  const connectionId = A.wsConnection.connectionID;
  let dropped = false;
  const d = A.on('connection.changed', (e) => { if (!e.online) dropped = true; });
  // What the connection saw, told if it dropped: each event's time and type, and how the socket closed.
  const started = Date.now();
  const seen = [];
  const all = A.on((e) => seen.push(`${Date.now() - started}ms ${e.type}`));
  A.wsConnection.ws?.addEventListener?.('close', (e) => seen.push(`${Date.now() - started}ms socket closed ${e.code} ${e.reason}`));
  await sleep(IDLE_MS);
  d.unsubscribe();
  all.unsubscribe();
  assert.equal(dropped, false, `the connection dropped while idle: ${seen.join('; ')}`);
  assert.equal(A.wsConnection.connectionID, connectionId);
  assert.equal(A.wsConnection.isHealthy, true);
  ok(`idle ${IDLE_MS} ms on one connection`);

  await Promise.all([A.disconnectUser(), B2.disconnectUser()]);
  ok('done');
}

main().then(() => process.exit(0), (error) => { console.error(`FAILED: ${error.stack ?? error}`); process.exit(1); });
