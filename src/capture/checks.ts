// Start-up checks that touch the disk. Each returns problems phrased for the technician
// at the gate: what is wrong and what to do, never a bare ENOENT.
import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { listImages } from './image-dir.js';

/** The executable as the OS would find it, or null (no spawn, so no orphan on failure). */
export async function findExecutable(bin: string): Promise<string | null> {
  const dirs = bin.includes('/') ? [''] : (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const full = dir ? join(dir, bin) : bin;
    try {
      await access(full, constants.X_OK);
      return full;
    } catch {
      // try the next PATH entry
    }
  }
  return null;
}

export async function checkExecutable(key: string, bin: string, pkg: string): Promise<string[]> {
  if (await findExecutable(bin)) return [];
  return [`capture.${key}: ${bin}: not found or not executable; install it (apt install ${pkg}) or set ${key} to its full path`];
}

export async function checkVideoDevice(key: string, device: string): Promise<string[]> {
  try {
    const s = await stat(device);
    if (!s.isCharacterDevice()) return [`capture.${key}: ${device}: exists but is not a video device; use the camera's /dev/videoN (list them with v4l2-ctl --list-devices)`];
  } catch {
    return [`capture.${key}: ${device}: no such device; is the camera plugged in? list cameras with v4l2-ctl --list-devices or ls /dev/video*`];
  }
  try {
    await access(device, constants.R_OK | constants.W_OK);
  } catch {
    return [`capture.${key}: ${device}: permission denied; add the service user to the video group (usermod -aG video <user>)`];
  }
  return [];
}

export async function checkReadableFile(key: string, path: string, what: string): Promise<string[]> {
  try {
    await access(path, constants.R_OK);
    return [];
  } catch {
    return [`capture.${key}: ${path}: cannot read ${what}; check the path${isAbsolute(path) ? '' : ' (relative to ' + process.cwd() + ')'} and its permissions`];
  }
}

/** Asks ffprobe whether the file holds a video stream ffmpeg can decode. */
export function probeVideo(ffprobePath: string, path: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      ffprobePath,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `file:${path}`],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        if (err) return resolve(stderr.trim().split('\n').pop() || err.message);
        resolve(stdout.trim() ? null : 'no video stream in it');
      },
    );
  });
}

export async function checkReplayPath(path: string, ffprobePath: string): Promise<{ mode: 'video' | 'images' | null; problems: string[] }> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    return { mode: null, problems: [`capture.path: ${path}: does not exist; give a video file or a directory of .jpg/.png images`] };
  }
  if (isDir) {
    let count: number;
    try {
      count = (await listImages(path)).length;
    } catch {
      return { mode: null, problems: [`capture.path: ${path}: cannot list the directory; check its permissions`] };
    }
    if (count === 0) return { mode: null, problems: [`capture.path: ${path}: the directory holds no .jpg, .jpeg or .png images; add some or point path at another directory`] };
    return { mode: 'images', problems: [] };
  }
  const unreadable = await checkReadableFile('path', path, 'the video file');
  if (unreadable.length > 0) return { mode: null, problems: unreadable };
  const probeProblems = await checkExecutable('ffprobePath', ffprobePath, 'ffmpeg');
  if (probeProblems.length > 0) return { mode: null, problems: probeProblems };
  const why = await probeVideo(ffprobePath, path);
  if (why) return { mode: null, problems: [`capture.path: ${path}: not a playable video (${why}); convert it with ffmpeg -i ${path} out.mp4 or use another file`] };
  return { mode: 'video', problems: [] };
}
