'use strict';
// Shared by the watch and publish pages: WHIP/WHEP signalling and getStats() reading.
// Plain JavaScript, no build step; nothing here stores or logs a token.

const rtc = (() => {
  const GATHER_LIMIT_MS = 2000;

  function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }

  // fetch() that gives up after `ms` (a dead node must not hold the page)
  async function fetchWithin(url, ms, init) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      return await fetch(url, Object.assign({cache: 'no-store', signal: abort.signal}, init));
    } finally {
      clearTimeout(timer);
    }
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return Promise.race([sleep(GATHER_LIMIT_MS), new Promise(resolve => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
    })]);
  }

  // POST the complete offer (no trickle ICE); {status, text, resource} with the resource URL
  async function negotiate(pc, url, headers, limitMs) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetchWithin(url, limitMs, {
      method: 'POST', body: pc.localDescription.sdp,
      headers: Object.assign({'Content-Type': 'application/sdp'}, headers || {}),
    });
    const text = await response.text();
    if (response.status !== 201) return {status: response.status, text, resource: null};
    await pc.setRemoteDescription({type: 'answer', sdp: text});
    const location = response.headers.get('Location');
    return {status: 201, text: '', resource: location ? new URL(location, url).href : null};
  }

  async function release(resource, headers) {
    if (!resource) return;
    try {
      await fetchWithin(resource, 1000, {method: 'DELETE', headers: headers || {}});
    } catch (e) { /* the node may be gone: nothing to release */ }
  }

  async function pcConfig(origin, limitMs) {
    const response = await fetchWithin(origin + '/api/pc-config', limitMs);
    if (!response.ok) throw new Error(origin + ': pc-config ' + response.status);
    return response.json();
  }

  // One getStats() reading reduced to what the pages show and watch.
  async function sample(pc, direction) {
    const out = {frames: 0, width: 0, height: 0, fps: 0, bytes: 0, rttMs: null,
                 freezes: 0, keyframes: 0, codec: ''};
    const type = direction === 'in' ? 'inbound-rtp' : 'outbound-rtp';
    const stats = await pc.getStats();
    stats.forEach(s => {
      if (s.type === type) {
        out.bytes += direction === 'in' ? (s.bytesReceived || 0) : (s.bytesSent || 0);
        if (s.kind === 'video') {
          out.frames = direction === 'in' ? (s.framesDecoded || 0) : (s.framesEncoded || 0);
          out.width = s.frameWidth || 0; out.height = s.frameHeight || 0;
          out.fps = s.framesPerSecond || 0; out.freezes = s.freezeCount || 0;
          out.keyframes = direction === 'in' ? (s.keyFramesDecoded || 0) : (s.keyFramesEncoded || 0);
          const codec = stats.get(s.codecId); out.codec = codec ? codec.mimeType : '';
        }
      }
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
          s.currentRoundTripTime !== undefined) {
        out.rttMs = s.currentRoundTripTime * 1000;
      }
    });
    return out;
  }

  function show(id, text) { const e = document.getElementById(id); if (e) e.textContent = text; }

  function showState(state, message) {
    const badge = document.getElementById('state');
    badge.textContent = state; badge.dataset.state = state;
    if (message !== undefined) show('message', message);
  }

  function showStats(now, before, seconds) {
    show('resolution', now.width ? now.width + ' × ' + now.height : '—');
    const fps = now.fps || (before && seconds ? (now.frames - before.frames) / seconds : 0);
    show('fps', fps ? fps.toFixed(0) + ' fps' : '—');
    const bits = before && seconds ? 8 * (now.bytes - before.bytes) / seconds : 0;
    show('bitrate', bits > 0 ? (bits / 1e6).toFixed(2) + ' Mbit/s' : '—');
    show('rtt', now.rttMs === null ? '—' : now.rttMs.toFixed(0) + ' ms');
  }

  // --- the client-side region election (as `bcastctl probe rtt` models it) -------------
  // Every known node is timed with GETs of /api/pc-config (one warm-up first, so a sample
  // is one round trip); a region needs MIN_SAMPLES answers; the lowest mean wins, ties by
  // name. Returns every answering node, best region first, best node first within it.
  const MIN_SAMPLES = 2;

  async function time(node, samples, limitMs) {
    const timed = {node, samples: [], config: null};
    try {
      timed.config = await pcConfig(node.url, limitMs);  // warm-up
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        const response = await fetchWithin(node.url + '/api/pc-config', limitMs);
        await response.arrayBuffer();
        if (response.ok) timed.samples.push(performance.now() - started);
      }
    } catch (e) { /* no answer: this node is out of the election */ }
    return timed;
  }

  function mean(values) { return values.reduce((a, b) => a + b, 0) / values.length; }

  async function elect(regions, options) {
    const avoid = options.avoid || new Set();
    const nodes = [];
    for (const region of regions) {
      for (const node of region.nodes) nodes.push(Object.assign({region: region.name}, node));
    }
    const timed = await Promise.all(nodes.map(n => time(n, options.samples, options.limitMs)));
    const byRegion = new Map();
    for (const t of timed) {
      if (!byRegion.has(t.node.region)) byRegion.set(t.node.region, []);
      byRegion.get(t.node.region).push(t);
    }
    const ranked = [];
    const means = {};
    for (const [region, entries] of byRegion) {
      const samples = entries.flatMap(t => t.samples);
      means[region] = samples.length ? mean(samples) : null;
      if (samples.length < MIN_SAMPLES) continue;
      const answering = entries.filter(t => t.samples.length)
        .map(t => Object.assign({meanMs: mean(t.samples), config: t.config}, t.node))
        .sort((a, b) => a.meanMs - b.meanMs);
      ranked.push({region, meanMs: means[region], nodes: answering});
    }
    ranked.sort((a, b) => a.meanMs - b.meanMs || (a.region < b.region ? -1 : 1));
    const ordered = ranked.flatMap(r => r.nodes);
    // nodes that just failed us go last: tried again only when nothing else answers
    const fresh = ordered.filter(n => !avoid.has(n.url));
    const candidates = fresh.concat(ordered.filter(n => avoid.has(n.url)));
    return {winner: ranked.length ? ranked[0].region : null, means, candidates};
  }

  // The region list from the first origin that answers.
  async function regionsFrom(origins, limitMs) {
    for (const origin of origins) {
      try {
        const response = await fetchWithin(origin + '/api/regions', limitMs);
        if (response.ok) return await response.json();
      } catch (e) { /* try the next one */ }
    }
    return null;
  }

  function backoffMs(attempt) {
    if (attempt === 0) return 0;
    const base = Math.min(5000, 250 * 2 ** (attempt - 1));
    return base * (0.75 + Math.random() / 2);
  }

  return {sleep, fetchWithin, negotiate, release, pcConfig, sample, show, showState, showStats,
          elect, regionsFrom, backoffMs};
})();
