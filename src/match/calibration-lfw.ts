// The calibration table shipped with the agent: the impostor score distribution of the
// default embedder on LFW people A to I (../shared/faces/lfw), fused templates, written by
//   gate-agent eval identify --gallery ../shared/faces/lfw --enroll-photos 2 --write-calibration <file>
// 1034506 comparisons: each of the 1,614 single-photo people (strangers, less
// those the quality gate refuses) against each of the 649 enrolled people. A site redoes
// it on its own photos and sets identification.calibrationFile (docs/accuracy.md).
import type { CalibrationTable } from './calibration.js';

export const LFW_CALIBRATION: CalibrationTable = {
  source: 'LFW A-I, 1034506 stranger x enrolled comparisons (shipped)',
  modelId: 'arcface_mbf_w600k_int8',
  templates: 'fused',
  comparisons: 1034506,
  points: [
    [0.0465, 0.3162],
    [0.0768, 0.1778],
    [0.1019, 0.1],
    [0.1237, 0.05623],
    [0.1435, 0.03162],
    [0.162, 0.01778],
    [0.1795, 0.01],
    [0.196, 0.005623],
    [0.212, 0.003162],
    [0.2275, 0.001779],
    [0.2418, 0.001],
    [0.257, 0.0005626],
    [0.272, 0.0003161],
    [0.2868, 0.0001779],
    [0.3008, 9.956e-05],
    [0.3137, 5.607e-05],
    [0.3216, 3.19e-05],
    [0.3352, 1.74e-05],
    [0.3446, 9.666e-06],
  ],
  tailSlope: -17.93,
};
