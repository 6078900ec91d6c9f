// The pure parts of `camera snapshot` and the camera-sharing rule: every quality verdict and
// hint, and which sources a tool may open beside the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aimFace, annotationSvg, hintFor } from '../../src/app/camera-aim.js';
import { sharedSource } from '../../src/app/camera-access.js';
import { qualityChecks, qualityProblem } from '../../src/match/quality-gate.js';
import type { Face } from '../../src/vision/types.js';

const q = { minInterEyePx: 60, maxYawDeg: 30, minSharpness: 20 };
const face = (interEyePx: number, yawDeg: number, sharpness: number): Face => ({
  box: [100, 50, 200, 180],
  score: 0.9,
  landmarks: [[130, 100], [170, 100], [150, 125], [135, 150], [165, 150]],
  interEyePx,
  yawDeg,
  sharpness,
});

test('each quality setting is checked; the gate\'s problem is the first failing check', () => {
  for (const [f, failing] of [
    [face(80, 5, 100), []],
    [face(40, 5, 100), ['quality.minInterEyePx']],
    [face(80, -45, 100), ['quality.maxYawDeg']],
    [face(80, 5, 10), ['quality.minSharpness']],
    [face(40, 45, 10), ['quality.minInterEyePx', 'quality.maxYawDeg', 'quality.minSharpness']],
    [face(60, 30, 20), []], // at the limits passes, as at the gate
  ] as const) {
    const checks = qualityChecks(f, q);
    assert.deepEqual(checks.filter((c) => !c.pass).map((c) => c.key), failing);
    assert.equal(qualityProblem(f, q), checks.find((c) => !c.pass)?.problem ?? null);
    const aim = aimFace(f, q);
    assert.equal(aim.pass, failing.length === 0);
    assert.equal(aim.problem, qualityProblem(f, q));
  }
});

test('a failing check says what to change at the camera; a passing one says nothing', () => {
  const [eyes, yaw, sharp] = qualityChecks(face(30, -50, 5), q);
  assert.equal(hintFor(eyes!), 'eye distance 30 px, needs >= 60: the face must be 2.0x larger in the picture: move the camera closer (to about 50% of its distance to this face) or zoom in, or raise camera.widthPx/heightPx if the camera offers more');
  assert.match(hintFor(yaw!) ?? '', /^head turned 50°, needs <= 30°: mount the camera in line with the way people walk up/);
  assert.match(hintFor(sharp!) ?? '', /^sharpness 5, needs >= 20: focus and clean the lens/);
  assert.match(hintFor(qualityChecks(face(0, 0, 100), q)[0]!) ?? '', /^eye distance 0 px, needs >= 60: move the camera closer or zoom in/);
  assert.equal(hintFor(qualityChecks(face(80, 0, 100), q)[0]!), null);
});

test('the annotation draws a box per face in its verdict colour, and the landmarks', () => {
  const svg = annotationSvg(640, 480, [aimFace(face(80, 0, 100), q), aimFace(face(30, 0, 100), q)]);
  assert.equal((svg.match(/<rect /g) ?? []).length, 2);
  assert.match(svg, /<rect x="100" y="50" width="100" height="130" fill="none" stroke="#00ff00"/);
  assert.match(svg, /stroke="#ff0000"/);
  assert.equal((svg.match(/<circle /g) ?? []).length, 10);
});

test('replays, RTSP and the webcam FILE: input are shared with the daemon; a V4L2 camera and a webcam device are not', () => {
  assert.equal(sharedSource({ kind: 'replay', path: '/x.mp4' }), true);
  assert.equal(sharedSource({ kind: 'rtsp', url: 'rtsp://cam/1' }), true);
  assert.equal(sharedSource({ kind: 'webcam', device: 'FILE:/x.jpg' }), true);
  assert.equal(sharedSource({ kind: 'webcam', device: '/dev/video0' }), false);
  assert.equal(sharedSource({ kind: 'v4l2', device: '/dev/video0' }), false);
});
