// The `camera` section: where frames come from. Its numbers are also the defaults of every
// frame source built outside the daemon (capture/options.ts takes them from here).
import { bool, defaultsOf, int, oneOf, section, str, strOrNull, type Static } from '../schema-kit.js';

export const cameraSchema = section('Where frames come from. "auto": the V4L2 camera at camera.device when it exists, else the replay source at camera.path.', {
  kind: oneOf(['auto', 'v4l2', 'rtsp', 'webcam', 'replay'], {
    description: 'Frame source: v4l2 (USB/CSI camera through ffmpeg), rtsp (IP camera), webcam (fswebcam, about 1 frame/s), replay (a video file or a folder of images), auto.',
    default: 'auto',
    examples: ['v4l2'],
  }),
  device: str({ description: 'Camera device for v4l2 and webcam (webcam also takes FILE:/path/photo.jpg).', default: '/dev/video0', examples: ['/dev/video0'] }),
  url: strOrNull({ description: 'rtsp://user:password@host:554/stream for kind rtsp; the credentials never reach a log line.', default: null, urlSchemes: ['rtsp', 'rtsps'], examples: ['rtsp://gate:secret@10.0.0.20:554/stream1'] }),
  path: strOrNull({ description: 'Video file or folder of images for kind replay (demos, tests).', default: null, examples: ['/var/lib/gate-agent/demo.mp4'] }),
  loop: bool({ description: 'Replay: start again at the end instead of stopping.', default: false, examples: [false] }),
  realtime: bool({ description: 'Replay of a video: pace frames at the video\'s own speed.', default: true, examples: [true] }),
  fps: int({ description: 'Frames per second asked of the camera (webcam: at most about 1).', default: 10, minimum: 0, examples: [10] }),
  widthPx: int({ description: 'Frame width asked of the camera, in pixels.', default: 640, minimum: 0, examples: [640] }),
  heightPx: int({ description: 'Frame height asked of the camera, in pixels.', default: 480, minimum: 0, examples: [480] }),
  stallTimeoutMs: int({ description: 'A camera that delivers no frame for this long is restarted.', default: 5000, minimum: 0, examples: [5000] }),
  restartBackoffMinMs: int({ description: 'First delay before restarting a failed camera; doubles per failure.', default: 500, minimum: 0, examples: [500] }),
  restartBackoffMaxMs: int({ description: 'Longest delay between camera restarts.', default: 30000, minimum: 0, examples: [30000] }),
  frameFormat: oneOf(['auto', 'raw', 'mjpeg'], {
    description:
      'How ffmpeg hands frames over. raw: packed RGB at widthPx x heightPx (fitted, black bars for another aspect ratio), no JPEG encode and decode per frame; for sources ffmpeg decodes anyway. mjpeg: JPEGs decoded by sharp. auto: raw for rtsp and video replay, mjpeg for v4l2 (a USB camera delivers MJPEG itself). A replayed folder of images is always read as JPEG.',
    default: 'auto',
    examples: ['raw'],
  }),
});

export type CameraConfig = Static<typeof cameraSchema>;

export const cameraDefaults: Readonly<CameraConfig> = defaultsOf(cameraSchema);
