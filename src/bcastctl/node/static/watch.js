'use strict';
// The viewer page: WHEP from the region with the lowest round trip, and back again by
// itself when its session fails or the stream stalls (re-election, then POST with backoff).

const ready = true;  // the page's script has loaded (test drivers wait for it)

const settings = {
  graceMs: 1500,        // 'disconnected' this long: reconnect
  stallMs: 1500,        // no new decoded frame this long: ask the node, maybe reconnect
  publisherGoneMs: 15000,  // the node says nobody publishes: keep the session this long
  firstFrameMs: 8000,   // a new session that never decodes a frame: reconnect
  samples: 3,           // RTT samples per node in an election
  probeLimitMs: 800,    // one probe GET
  postLimitMs: 8000,    // one WHEP POST
  avoidMs: 10000,       // a node that failed us goes to the back of the list this long
  tickMs: 250,
};

const viewer = window.viewer = {
  stream: null, state: 'starting', node: null, region: null, origin: null, resource: null,
  session: 0, framesDecoded: 0, totalFrames: 0, freezes: 0, election: null,
  recoveries: [], lastFrameAt: null,
};
const MISSING_RETRY_MS = 500;
const avoided = new Map();  // node origin -> until (performance.now())
let regions = null;

function streamFromLocation() {
  const match = location.pathname.match(/^\/watch\/([A-Za-z0-9_-]{1,64})$/);
  if (match) return match[1];
  const query = new URLSearchParams(location.search).get('stream');
  return query && /^[A-Za-z0-9_-]{1,64}$/.test(query) ? query : null;
}

function setState(state, message) {
  viewer.state = state;
  rtc.showState(state, message);
}

function avoid(origin) { avoided.set(origin, performance.now() + settings.avoidMs); }

function avoidSet() {
  const now = performance.now();
  for (const [origin, until] of avoided) if (until < now) avoided.delete(origin);
  return new Set(avoided.keys());
}

function knownOrigins() {
  const origins = [viewer.origin, location.origin].filter(Boolean);
  for (const region of regions ? regions.regions : []) {
    for (const node of region.nodes) origins.push(node.url);
  }
  const unique = [...new Set(origins)];
  return unique.filter(o => !avoided.has(o)).concat(unique.filter(o => avoided.has(o)));
}

// ?region=<name> keeps the player in one region while any of its nodes answers (to check
// a region on purpose); otherwise every region takes part in the election.
function pinnedRegion() {
  return new URLSearchParams(location.search).get('region');
}

// Every node ever listed is kept (a node cut off from NATS lists only itself); the
// election drops the ones that do not answer.
function merge(fresh) {
  const byRegion = new Map((regions ? regions.regions : []).map(r => [r.name, r.nodes]));
  for (const region of fresh.regions) {
    const nodes = byRegion.get(region.name) || [];
    for (const node of region.nodes) {
      if (!nodes.some(known => known.url === node.url)) nodes.push(node);
    }
    byRegion.set(region.name, nodes);
  }
  return {regions: [...byRegion].map(([name, nodes]) => ({name, nodes}))};
}

// Behind the fleet's public HTTPS entry (fleet `signalling.host`) a region is one endpoint:
// https://<region>.<host> when the page came from such a name (`region_hosts`), else the
// global host itself, which sends each request to a healthy region. Over plain HTTP (the
// lab, a node reached directly) the nodes' own origins, as /api/regions lists them.
function publicRegions(protocol, hostname, view) {
  if (protocol !== 'https:') return view.regions;
  const names = view.regions.map(region => region.name);
  const first = hostname.split('.')[0];
  if (!names.includes(first)) {
    return [{name: view.region, nodes: [{name: view.region, url: 'https://' + hostname}]}];
  }
  const base = hostname.slice(first.length + 1);
  return names.map(name => ({name, nodes: [{name, url: 'https://' + name + '.' + base}]}));
}

async function refreshRegions() {
  const fresh = await rtc.regionsFrom(knownOrigins(), settings.probeLimitMs);
  if (fresh) {
    regions = merge({regions: publicRegions(location.protocol, location.hostname, fresh)});
  }
  const all = regions ? regions.regions : [{name: '?', nodes: [{name: '?', url: location.origin}]}];
  const pinned = all.filter(region => region.name === pinnedRegion());
  return pinned.length ? pinned : all;
}

// One WHEP session on `node`: 'ok', 'missing' (no such stream) or 'failed'.
async function attempt(node, session) {
  const config = node.config || {iceServers: []};
  const pc = new RTCPeerConnection(config);
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  pc.ontrack = event => {
    const video = document.getElementById('video');
    if (!video.srcObject) video.srcObject = new MediaStream();
    video.srcObject.addTrack(event.track);
  };
  let answer;
  try {
    const url = node.url + '/api/whep?stream=' + encodeURIComponent(viewer.stream);
    answer = await rtc.negotiate(pc, url, {}, settings.postLimitMs);
  } catch (e) {
    answer = {status: 0, text: String(e)};
  }
  if (answer.status !== 201 || session !== viewer.session) {
    pc.close();
    if (answer.status === 201) rtc.release(answer.resource);
    if (answer.status === 404) return 'missing';
    avoid(node.url);
    return 'failed';
  }
  Object.assign(viewer, {node: node.name, region: node.region, origin: node.url,
                         resource: answer.resource, framesDecoded: 0});
  rtc.show('serving', node.name + ' · ' + node.region);
  setState('connecting', 'connected to ' + node.name + ' (' + node.region + ')');
  watchSession(pc, session);
  return 'ok';
}

async function connect(reason) {
  const session = ++viewer.session;
  const detectedAt = Date.now();
  const from = viewer.node;
  // failures back off (0.25 s doubling to 5 s); a 404 is retried every MISSING_RETRY_MS
  let failures = 0, delayMs = 0;
  while (session === viewer.session) {
    await rtc.sleep(delayMs);
    if (session !== viewer.session) return;
    if (viewer.state !== 'waiting') {
      setState(failures ? 'reconnecting' : 'electing', reason ? reason + ': electing a region' : '');
    }
    const election = await rtc.elect(await refreshRegions(), {
      samples: settings.samples, limitMs: settings.probeLimitMs, avoid: avoidSet()});
    viewer.election = {winner: election.winner, means: election.means};
    rtc.show('election', Object.entries(election.means)
      .map(([region, ms]) => region + ' ' + (ms === null ? 'down' : ms.toFixed(1) + ' ms'))
      .join(' · ') || '—');
    failures += 1;
    delayMs = rtc.backoffMs(failures);
    if (!election.candidates.length) {
      setState('reconnecting', 'no node answers; retrying');
      continue;
    }
    for (const node of election.candidates.slice(0, 3)) {
      const outcome = await attempt(node, session);
      if (outcome === 'ok') {
        if (reason) viewer.recoveries.push({reason, from, to: node.name, region: node.region,
                                            detectedAt, recoveredAt: null, gapMs: null});
        return;
      }
      if (outcome === 'missing') {
        setState('waiting', 'stream "' + viewer.stream + '" is not live yet; retrying');
        failures = 0; delayMs = MISSING_RETRY_MS;
        break;
      }
    }
  }
}

function firstFrames() {
  const pending = viewer.recoveries[viewer.recoveries.length - 1];
  if (pending && pending.recoveredAt === null) {
    pending.recoveredAt = Date.now();
    pending.gapMs = viewer.lastFrameAt === null ? null : pending.recoveredAt - viewer.lastFrameAt;
    rtc.show('recoveries', String(viewer.recoveries.length));
  }
}

// Is the stream still published somewhere? null when the serving node does not answer.
async function streamStatus() {
  try {
    const response = await rtc.fetchWithin(
      viewer.origin + '/api/streams/' + encodeURIComponent(viewer.stream), settings.probeLimitMs);
    return response.ok ? await response.json() : null;
  } catch (e) {
    return null;
  }
}

// Why to give up a session whose frames stopped (null: keep it). `stall` remembers since
// when the stream has been published again without frames reaching this session: a
// publisher coming back gets stallMs for the node to resume the session.
async function stallVerdict(stalledMs, stall, now) {
  const status = await streamStatus();
  if (status === null) return 'serving node unreachable';
  if (!status.held) {
    stall.heldSince = null;
    setState('waiting', 'the publisher is away; keeping this session');
    return stalledMs > settings.publisherGoneMs ? 'publisher gone' : null;
  }
  stall.heldSince = stall.heldSince === null ? now : stall.heldSince;
  return now - stall.heldSince > settings.stallMs ? 'stream stalled' : null;
}

async function watchSession(pc, session) {
  const startedAt = performance.now();
  let frames = 0, progressAt = startedAt, disconnectedAt = null, before = null, beforeAt = 0;
  const stall = {heldSince: null};
  const end = reason => {
    if (session !== viewer.session) return;
    pc.close();
    rtc.release(viewer.resource);
    avoid(viewer.origin);
    connect(reason);
  };
  while (session === viewer.session) {
    await rtc.sleep(settings.tickMs);
    if (session !== viewer.session) return;
    const now = performance.now();
    const s = await rtc.sample(pc, 'in');
    if (s.frames > frames) {
      if (frames === 0) { firstFrames(); }
      viewer.totalFrames += s.frames - frames;
      frames = s.frames; progressAt = now; viewer.lastFrameAt = Date.now();
      if (viewer.state !== 'playing') setState('playing', '');
    }
    viewer.framesDecoded = s.frames; viewer.freezes = s.freezes;
    if (now - beforeAt >= 1000) {
      rtc.showStats(s, before, (now - beforeAt) / 1000);
      before = s; beforeAt = now;
    }
    const state = pc.connectionState;
    if (state === 'failed' || state === 'closed') return end('connection ' + state);
    disconnectedAt = state === 'disconnected' ? (disconnectedAt || now) : null;
    if (disconnectedAt !== null && now - disconnectedAt > settings.graceMs) {
      return end('disconnected');
    }
    if (frames === 0 && now - startedAt > settings.firstFrameMs) return end('no frames');
    if (frames > 0 && now - progressAt > settings.stallMs) {
      if (viewer.state === 'playing') setState('stalled', 'no new frame; checking the node');
      const verdict = await stallVerdict(now - progressAt, stall, now);
      if (verdict) return end(verdict);
    } else {
      stall.heldSince = null;
    }
  }
}

function main() {
  viewer.stream = streamFromLocation();
  document.getElementById('unmute').addEventListener('click', event => {
    document.getElementById('video').muted = false;
    event.target.hidden = true;
  });
  if (!viewer.stream) {
    document.getElementById('choose').hidden = false;
    document.getElementById('player').hidden = true;
    setState('idle', 'choose a stream to watch');
    return;
  }
  rtc.show('stream-name', viewer.stream);
  document.title = viewer.stream + ' · bcast';
  connect(null);
}

main();
