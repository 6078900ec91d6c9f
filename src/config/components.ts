// The schema sections of the hardware- and network-facing components.
import { defaults as relayDefaults } from '../relay/types.js';
import { defaults as publishDefaults } from '../publish/options.js';
import { DEFAULT_API_CONFIG } from '../api/api-config.js';
import { defaults as captureDefaults } from '../capture/options.js';
import { MAX_GPIO_LINE, MAX_PI_HEADER_LINE, MAX_PULSE_MS } from '../relay/limits.js';
import { sectionFromDefaults } from './sections.js';

export const cameraSection = sectionFromDefaults(
  'Where frames come from. "auto": the V4L2 camera at camera.device when it exists, else the replay source at camera.path.',
  {
    kind: 'auto',
    device: '/dev/video0',
    url: null,
    path: null,
    loop: false,
    realtime: true,
    fps: captureDefaults.fps,
    widthPx: captureDefaults.widthPx,
    heightPx: captureDefaults.heightPx,
    stallTimeoutMs: captureDefaults.stallTimeoutMs,
    restartBackoffMinMs: captureDefaults.restartBackoffMinMs,
    restartBackoffMaxMs: captureDefaults.restartBackoffMaxMs,
    frameFormat: 'auto',
  },
  {
    kind: { description: 'Frame source: v4l2 (USB/CSI camera through ffmpeg), rtsp (IP camera), webcam (fswebcam, about 1 frame/s), replay (a video file or a folder of images), auto.', enum: ['auto', 'v4l2', 'rtsp', 'webcam', 'replay'], examples: ['v4l2'] },
    device: { description: 'Camera device for v4l2 and webcam (webcam also takes FILE:/path/photo.jpg).', examples: ['/dev/video0'] },
    url: { description: 'rtsp://user:password@host:554/stream for kind rtsp; the credentials never reach a log line.', urlSchemes: ['rtsp', 'rtsps'], examples: ['rtsp://gate:secret@10.0.0.20:554/stream1'] },
    path: { description: 'Video file or folder of images for kind replay (demos, tests).', examples: ['/var/lib/gate-agent/demo.mp4'] },
    loop: 'Replay: start again at the end instead of stopping.',
    realtime: 'Replay of a video: pace frames at the video\'s own speed.',
    fps: 'Frames per second asked of the camera (webcam: at most about 1).',
    widthPx: 'Frame width asked of the camera, in pixels.',
    heightPx: 'Frame height asked of the camera, in pixels.',
    stallTimeoutMs: 'A camera that delivers no frame for this long is restarted.',
    restartBackoffMinMs: 'First delay before restarting a failed camera; doubles per failure.',
    restartBackoffMaxMs: 'Longest delay between camera restarts.',
    frameFormat: {
      description:
        'How ffmpeg hands frames over. raw: packed RGB at widthPx x heightPx (fitted, black bars for another aspect ratio), no JPEG encode and decode per frame; for sources ffmpeg decodes anyway. mjpeg: JPEGs decoded by sharp. auto: raw for rtsp and video replay, mjpeg for v4l2 (a USB camera delivers MJPEG itself). A replayed folder of images is always read as JPEG.',
      enum: ['auto', 'raw', 'mjpeg'],
      examples: ['raw'],
    },
  },
);

export const relaySection = sectionFromDefaults('The door strike / turnstile relay and the door inputs.', { ...relayDefaults }, {
  driver: { description: 'onoff (Linux sysfs GPIO), gpiod (libgpiod tools; Raspberry Pi 5 and current kernels), sim (records pulses; no hardware), auto (onoff, else gpiod, else sim).', enum: ['auto', 'onoff', 'gpiod', 'sim'], examples: ['gpiod'] },
  board: {
    description: `The board whose GPIO lines pin, doorPin and exitButtonPin name. raspberry-pi: BCM numbers of the 40-pin header, 0..${MAX_PI_HEADER_LINE} (GPIO17 is physical pin 11); jetson or generic: any line offset of the chip up to ${MAX_GPIO_LINE}.`,
    enum: ['raspberry-pi', 'jetson', 'generic'],
    examples: ['raspberry-pi'],
  },
  chip: 'gpiod: the GPIO chip (name, path or number).',
  pin: { description: `Relay output line (BCM number on a Raspberry Pi, 0..${MAX_PI_HEADER_LINE}; see relay.board).`, maximum: MAX_GPIO_LINE, examples: [17] },
  sysfsBase: 'onoff: added to pin numbers for sysfs (0 on older Pi kernels; the chip base, e.g. 571, on Pi 5 / kernel 6.6+).',
  pulseMs: {
    description: `How long the relay is energised per grant, in ms; never longer, even if the agent stalls. At most ${MAX_PULSE_MS} (${MAX_PULSE_MS / 1000} s): a grant lets one person through, a longer pulse is a door held open by the agent, and many strikes are rated for intermittent duty only.`,
    minimum: 50,
    maximum: MAX_PULSE_MS,
    examples: [3000],
  },
  activeLow: 'The relay board energises on a low level (most opto-isolated boards).',
  doorPin: { description: 'Door contact input line (active = open); null when not wired. Bounded like relay.pin.', type: ['integer', 'null'], minimum: 0, maximum: MAX_GPIO_LINE, examples: [27] },
  doorActiveLow: 'The door contact reads low when the door is open.',
  exitButtonPin: { description: 'Exit (request-to-exit) button input line; null when not wired. Bounded like relay.pin.', type: ['integer', 'null'], minimum: 0, maximum: MAX_GPIO_LINE, examples: [22] },
  exitButtonActiveLow: 'The exit button reads low when pressed.',
  heldOpenMs: 'A door open longer than this raises a door-held-open event, in ms.',
  debounceMs: 'Input edges closer than this are one edge (contact bounce), in ms.',
  gpiodBinDir: 'gpiod: folder holding gpioset, gpioget and gpiomon.',
});

const mqttDefaults = { ...publishDefaults, brokerUrl: null as string | null };
export const mqttSection = sectionFromDefaults('Publishing results to the central server over MQTT. brokerUrl null: results stay queued in the local outbox.', mqttDefaults, {
  brokerUrl: { description: 'mqtt://, mqtts://, ws:// or wss:// URL of the broker; null keeps results in the local outbox until one is set.', urlSchemes: ['mqtt', 'mqtts', 'ws', 'wss'], examples: ['mqtts://broker.securegate.example:8883'] },
  clientId: 'MQTT client id; empty means gate-<siteId>-<gateId>.',
  username: 'Broker user name, or null.',
  password: 'Broker password, or null; never logged.',
  caFile: 'PEM file of the CA that signed the broker\'s certificate (mqtts/wss).',
  certFile: 'PEM client certificate, for brokers that require one.',
  keyFile: 'PEM private key of the client certificate.',
  baseTopic: 'Base topic; empty means securegate/<siteId>/<gateId>.',
  reconnectMinMs: 'First reconnect delay in ms; doubles per failure.',
  reconnectMaxMs: 'Longest reconnect delay in ms.',
  keepaliveSec: 'MQTT keepalive in seconds; the broker publishes the last will after 1.5x this without traffic.',
  connectTimeoutMs: 'Give up a connection attempt after this many ms.',
  inflightWindow: { description: 'QoS 1 messages sent and not yet acknowledged at most.', minimum: 1 },
  outboxMaxMessages: { description: 'Most results held while the broker is unreachable; beyond it the oldest are dropped, counted and reported.', minimum: 1 },
  statusRefreshMs: { description: 'The retained status (with its detail: camera, relay, last decision, fleet) is republished when any of it changes; a change of the outbox depth alone, at most once per this many ms.', minimum: 100, examples: [10000] },
});

export const apiSection = sectionFromDefaults(
  'The local identity endpoint (POST /identity, /healthz, /metrics, /openapi.json).',
  { enabled: false, host: '0.0.0.0', port: 8080, maxGateActivities: 20, summaryFlushMs: 10_000, ...(DEFAULT_API_CONFIG as unknown as Record<string, number | string[] | null>) },
  {
    enabled: 'Serve the endpoint from the daemon.',
    host: { description: 'Address to listen on.', examples: ['0.0.0.0'] },
    port: { description: 'TCP port to listen on; 0 lets the system pick a free one (the log says which).', minimum: 0, examples: [8080] },
    maxGateActivities: { description: 'Verifications by this gate kept in an attendee\'s activities (the oldest of them are dropped first); the central server\'s own activities are never dropped.', minimum: 1, examples: [20] },
    summaryFlushMs: {
      description: 'How often, in ms, the daemon looks for an ended minute of POST /identity results summarised under api.unmatchedRecordsPerMinute and writes its identity_api_summary event, when no request comes to write it. The summary is late by at most this much.',
      minimum: 1,
      examples: [10000],
    },
    headersTimeoutMs: 'A client must send its request headers within this many ms.',
    requestTimeoutMs: 'A whole request must arrive within this many ms.',
    keepAliveTimeoutMs: 'Idle keep-alive connections are closed after this many ms.',
    connectionsCheckIntervalMs: 'How often timed-out connections are looked for, in ms.',
    maxHeaderBytes: 'Largest request header block, in bytes.',
    bodyLimitBytes: 'Largest request body read (and ignored), in bytes.',
    imageMaxBytes: 'Largest image fetched for image_url, in bytes.',
    imageFetchTimeoutMs: 'Time limit for fetching image_url, in ms.',
    imageMaxRedirects: 'Redirects followed when fetching image_url.',
    imageAllowList: { description: 'Hosts, host:port, IPs or CIDR blocks image_url may reach although they are private or loopback.', examples: [['cameras.venue.lan', '10.20.0.0/16']] },
    snapshotDir: { description: 'Folder file: URLs may read images from; null refuses file: URLs.', examples: ['/var/lib/gate-agent/snapshots'] },
    rateLimitPerKeyPerSec: 'Requests per second allowed per API key.',
    rateLimitPerKeyBurst: 'Burst of requests allowed per API key.',
    rateLimitPerIpPerSec: 'Requests per second allowed per client address.',
    rateLimitPerIpBurst: 'Burst of requests allowed per client address.',
    probeTimeoutMs: 'Time limit of each readiness probe of /healthz, in ms.',
    rateLimitTotalPerSec: { description: 'Requests per second to POST /identity over all keys and addresses together; the gate recognises only a few per second.', examples: [20] },
    rateLimitTotalBurst: { description: 'Burst of requests allowed over all keys and addresses together.', examples: [40] },
    rateLimitShareWindowMs: {
      description: 'An API key that sent POST /identity within this many ms counts as active. The gate-wide rate and burst are shared between the active keys: a key within its share always gets through while the gate has capacity, a key past it only takes capacity no other active key could claim now.',
      minimum: 1,
      examples: [10000],
    },
    maxConnections: { description: 'Open client connections at most; at the cap the oldest idle connection is closed to make room, so /healthz still answers while idle sockets pile up.', minimum: 1, examples: [256] },
    maxConnectionsPerAddress: { description: 'Open connections per client address at most (the same rule, per address).', minimum: 1, examples: [32] },
    maxRecognitionsInFlight: { description: 'Verifications (image decode + face pipeline) running at once; also the number of decode worker processes.', minimum: 1, examples: [2] },
    maxRecognitionsInFlightPerKey: {
      description: 'Verifications one API key runs at once at most; waiting verifications are admitted round robin between keys, so a key flooding the queue does not stand between another key and a free slot.',
      minimum: 1,
      examples: [1],
    },
    maxInFlightPixels: { description: 'Pixels (width x height, read from the image headers) of the images being verified at once; bounds decode memory (about 3-9 bytes per pixel). An image with more is refused with 413.', minimum: 1, examples: [40000000] },
    smallImagePixels: {
      description: 'Images of at most this many pixels (an ordinary photo or camera frame) may go this far over api.maxInFlightPixels, so one large image in flight does not hold every other verification up; decode memory is bounded by the two together.',
      minimum: 1,
      examples: [4000000],
    },
    maxQueuedRecognitions: { description: 'Verifications waiting for a slot at most; more are answered 503 with Retry-After.', minimum: 0, examples: [16] },
    queueTimeoutMs: { description: 'Longest a verification waits for a slot before it is answered 503 with Retry-After, in ms.', examples: [5000] },
    decodeTimeoutMs: { description: 'CPU time one image decode may use in the decode worker, in ms; past it the worker is killed (the CPU work stops) and the answer is 415. CPU time, not wall time: a decode the gate\'s own work keeps waiting is not the image\'s fault.', examples: [3000] },
    decodeWallTimeoutMs: { description: 'Wall-clock bound of one image decode, in ms: the decode workers run at the lowest CPU priority, and one the gate\'s own work leaves without CPU holds its slot at most this long; past it the worker is killed and the answer is 503 with Retry-After.', examples: [15000] },
    decodeMaxSidePx: { description: 'API images are downscaled so their longer side is at most this many pixels before the face pipeline sees them.', minimum: 1, examples: [2048] },
    metricsRequireKey: { description: 'Require a valid x-api-key header on GET /metrics.', examples: [true] },
    unmatchedRecordsPerMinute: {
      description: 'POST /identity results that are not a match (no face, unknown, liveness failed) recorded one by one (audit record + outbox message) per minute; beyond it they are counted and written as one identity_api_summary event per minute, so a flood cannot fill the outbox or grow the audit without bound. Matches and camera decisions are always recorded.',
      minimum: 0,
      examples: [60],
    },
  },
);
