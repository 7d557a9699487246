'use strict';
// The publisher page: camera and microphone -> WHIP on this node (another when it fails). The token is read from
// the password field when going live, then the field is cleared: the token lives only in
// this closure (for re-publishing and the final DELETE), never in a URL, storage or the DOM.

const ready = true;  // the page's script has loaded (test drivers wait for it)

const publisher = window.publisher = {state: 'idle', stream: null, resource: null,
                                      node: null, republished: 0};
let session = 0;
let media = null;

function setState(state, message) {
  publisher.state = state;
  rtc.showState(state, message);
}

function bearer(token) { return {'Authorization': 'Bearer ' + token}; }

// Where to publish: this page's node first, then the other nodes of its region, then the
// rest (every node /api/regions listed); a failed node hands over to the next one.
const nodes = [location.origin];
let nodeIndex = 0;

function learn(view) {
  if (!view) return;
  const ordered = view.regions.filter(r => r.name === view.region)
    .concat(view.regions.filter(r => r.name !== view.region));
  for (const region of ordered) {
    for (const node of region.nodes) if (!nodes.includes(node.url)) nodes.push(node.url);
  }
}

async function goLive(token, tries) {
  const mine = ++session;
  const origin = nodes[nodeIndex % nodes.length];
  const url = origin + '/api/whip?stream=' + encodeURIComponent(publisher.stream);
  let answer, pc = null;
  try {
    pc = new RTCPeerConnection(await rtc.pcConfig(origin, 2000));
    for (const track of media.getTracks()) pc.addTransceiver(track, {direction: 'sendonly'});
    answer = await rtc.negotiate(pc, url, bearer(token), 10000);
  } catch (e) {
    answer = {status: 0, text: String(e)};
  }
  if (answer.status !== 201) {
    if (pc) pc.close();
    let reason = answer.text;
    try { reason = JSON.parse(answer.text).error; } catch (e) { /* plain text */ }
    if (answer.status === 401 || answer.status === 403) {
      setState('error', reason + ': type the token again');
      return stopped();
    }
    // 409: the stream is still claimed (an earlier session of ours, until it expires):
    // any node would say so; anything else: try the next node
    if (answer.status !== 409) nodeIndex += 1;
    setState('reconnecting', 'not live (' + (reason || answer.status) + '); retrying');
    await rtc.sleep(answer.status === 409 ? 500 : rtc.backoffMs(tries + 1));
    if (mine === session) goLive(token, tries + 1);
    return;
  }
  publisher.resource = answer.resource;
  const view = await rtc.regionsFrom([origin], 1000);
  learn(view);
  publisher.node = view ? view.node : null;
  rtc.show('serving', view ? view.node + ' · ' + view.region : origin);
  const link = document.getElementById('watch-link');
  link.href = origin + '/watch/' + encodeURIComponent(publisher.stream);
  link.textContent = link.href;
  setState('live', '');
  keepLive(pc, token, mine, origin);
}

// Does the node still hold our stream? false when it does not answer (or not for us).
async function stillHeld(origin) {
  try {
    const response = await rtc.fetchWithin(
      origin + '/api/streams/' + encodeURIComponent(publisher.stream), 1000);
    if (!response.ok) return false;
    const status = await response.json();
    return status.held && status.node === publisher.node;
  } catch (e) {
    return false;
  }
}

// Re-publish (same stream, same token) when the session fails or the node stops holding
// the stream; stop on "Stop".
async function keepLive(pc, token, mine, origin) {
  let before = null, beforeAt = 0, disconnectedAt = null, checkedAt = performance.now();
  while (mine === session) {
    await rtc.sleep(500);
    if (mine !== session) break;
    const now = performance.now();
    const s = await rtc.sample(pc, 'out');
    if (now - beforeAt >= 1000) {
      rtc.showStats(s, before, (now - beforeAt) / 1000);
      before = s; beforeAt = now;
    }
    const state = pc.connectionState;
    disconnectedAt = state === 'disconnected' ? (disconnectedAt || now) : null;
    let lost = state === 'failed' || (disconnectedAt !== null && now - disconnectedAt > 2000);
    if (!lost && now - checkedAt >= 1000) {
      checkedAt = now;
      lost = !(await stillHeld(origin)) && mine === session;
    }
    if (lost) {
      pc.close();
      rtc.release(publisher.resource, bearer(token));
      publisher.republished += 1;
      nodeIndex += 1;
      setState('reconnecting', 'lost ' + (publisher.node || origin) + '; publishing again');
      return goLive(token, 0);
    }
  }
  pc.close();
  await rtc.release(publisher.resource, bearer(token));
  publisher.resource = null;
}

function stopped() {
  document.getElementById('start').disabled = false;
  document.getElementById('stop').disabled = true;
  if (media) media.getTracks().forEach(t => t.stop());
  media = null;
}

async function start(event) {
  event.preventDefault();  // the form is never submitted: nothing reaches a URL
  const field = document.getElementById('token');
  const token = field.value.trim();
  field.value = '';
  const stream = document.getElementById('stream').value.trim();
  if (!token) return setState('error', 'type the publish token');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    return setState('error', "stream: use 1-64 letters, digits, '-' or '_'");
  }
  publisher.stream = stream;
  document.getElementById('start').disabled = true;
  document.getElementById('stop').disabled = false;
  setState('connecting', 'asking for the camera and microphone');
  try {
    media = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 960}, height: {ideal: 540}, frameRate: {ideal: 30}}, audio: true});
  } catch (e) {
    setState('error', 'no camera/microphone: ' + e.message +
             (window.isSecureContext ? '' : ' (the page needs HTTPS)'));
    return stopped();
  }
  document.getElementById('preview').srcObject = media;
  goLive(token, 0);
}

function stop() {
  session += 1;
  stopped();
  setState('idle', 'stopped');
}

document.getElementById('publish-form').addEventListener('submit', start);
document.getElementById('stop').addEventListener('click', stop);
