// Output of `gate-agent eval`: a text summary for people, one JSON object for scripts.
// The JSON keeps its keys in a fixed order and rounds figures, so two runs diff cleanly.
import type { AtThreshold, IdentifyReport, SizeReport } from '../eval/identify.js';
import type { PadReport } from '../eval/pad.js';
import type { VerifyReport } from '../eval/verify.js';
import type { PadRates } from '../eval/metrics.js';

/** Rounded to 6 decimals; NaN (no presentation of that kind) becomes null in JSON. */
const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
const pct = (v: number | null, digits = 2) => (v === null || Number.isNaN(v) ? 'n/a' : `${(v * 100).toFixed(digits)}%`);
const out = (s: string) => process.stdout.write(s + '\n');

interface Opts {
  json?: boolean;
  show: number;
}

export function printVerify(r: VerifyReport, o: Opts): void {
  if (o.json) {
    out(
      JSON.stringify({
        command: 'eval verify',
        threshold: r.threshold,
        pairs: r.pairs,
        genuine: r.genuine,
        impostor: r.impostor,
        skipped: r.skipped,
        atThreshold: { ...r.atThreshold, accuracy: r6(r.atThreshold.accuracy) },
        best: r.best ? { threshold: r4(r.best.threshold), accuracy: r6(r.best.accuracy) } : null,
        tarAtFar: r.tarAtFar.map((t) => (t.tar === null ? t : { ...t, tar: r6(t.tar), threshold: r4(t.threshold), farReached: r6(t.farReached) })),
        failures: r.failures.map((f) => ({ a: f.a, b: f.b, same: f.same, similarity: r4(f.similarity) })),
      }),
    );
    return;
  }
  const a = r.atThreshold;
  out(`${r.pairs} pairs scored (${r.genuine} same person, ${r.impostor} different); left out: ${r.skipped.noFace} with no face, ${r.skipped.unreadable} unreadable`);
  out(
    `at threshold ${r.threshold}: accuracy ${pct(a.accuracy)}; same person: ${a.trueAccepts} accepted, ${a.falseRejects} rejected; different: ${a.trueRejects} rejected, ${a.falseAccepts} accepted`,
  );
  if (r.best) out(`best threshold on this data: ${r.best.threshold.toFixed(3)} (accuracy ${pct(r.best.accuracy)}; fitted on the same pairs, so optimistic)`);
  for (const t of r.tarAtFar) {
    if (t.tar === null) out(`TAR at FAR ${t.far}: not measurable here (${t.reason})`);
    else out(`TAR at FAR ${t.far}: ${pct(t.tar)} (accepting above ${t.threshold.toFixed(3)}; FAR reached ${pct(t.farReached)} of ${t.impostors} impostor pairs)`);
  }
  out(`failing pairs at ${r.threshold}: ${r.failures.length}${r.failures.length > o.show ? ` (the ${o.show} furthest from the threshold; --json lists all)` : ''}`);
  for (const f of r.failures.slice(0, o.show)) out(`  ${f.same ? 'same     ' : 'different'} ${f.similarity.toFixed(3)}  ${f.a}  ${f.b}`);
}

export function printIdentify(r: IdentifyReport, o: Opts): void {
  const misses = (m: SizeReport['misses']) => `${m.noFace} / ${m.lowQuality} / ${m.belowThreshold} / ${m.belowMargin}`;
  if (o.json) {
    const at = (x: AtThreshold | SizeReport['base']) => ({ ...x, fnir: r6(x.fnir), fpir: r6(x.fpir), fnirJudged: r6(x.fnirJudged), fpirJudged: r6(x.fpirJudged) });
    out(
      JSON.stringify({
        command: 'eval identify',
        threshold: r.threshold,
        targetFpir: r.targetFpir,
        calibrationSource: r.calibrationSource,
        templates: r.templates,
        enrollPhotos: r.enrollPhotos,
        margin: r.margin,
        identities: r.identities,
        enrolled: r.enrolled,
        notEnrolled: r.notEnrolled,
        mated: r.mated,
        strangers: r.strangers,
        unreadable: r.unreadable,
        sizes: r.sizes.map((s) => ({
          gallerySize: s.gallerySize,
          embeddings: s.embeddings,
          mated: s.mated,
          nonMated: s.nonMated,
          threshold: s.threshold,
          expectedFpir: r6(s.expectedFpir),
          fnir: r6(s.fnir),
          fpir: r6(s.fpir),
          failedToAcquire: s.failedToAcquire,
          fnirJudged: r6(s.fnirJudged),
          fpirJudged: r6(s.fpirJudged),
          falseNegatives: s.falseNegatives,
          falsePositives: s.falsePositives,
          wrongIdentity: s.wrongIdentity,
          misses: s.misses,
          errors: s.errors.map((e) => ({ ...e, similarity: r4(e.similarity) })),
          base: at(s.base),
        })),
        verify: { ...r.verify, fnir: r6(r.verify.fnir), far: r6(r.verify.far), accepted: r.verify.accepted.map((a) => ({ ...a, similarity: r4(a.similarity) })) },
        extrapolation: r.extrapolation.map((x) => ({ ...x, fpirAtBase: r6(x.fpirAtBase), expectedFpir: r6(x.expectedFpir), fnir: r6(x.fnir) })),
        calibration: r.calibration,
        passages: r.passages && { ...r.passages, rows: r.passages.rows.map((x) => ({ ...x, fnir: r6(x.fnir), fpir: r6(x.fpir) })) },
      }),
    );
    return;
  }
  out(`${r.identities} identities: ${r.enrolled} enrolled, ${r.notEnrolled} with no usable photo to enroll; ${r.mated} genuine probes, ${r.strangers} stranger probes, ${r.unreadable} unreadable`);
  out(`templates: ${r.templates} (up to ${r.enrollPhotos} enrollment photo(s) per identity); margin ${r.margin}`);
  out(`threshold: match.threshold ${r.threshold}, raised to meet target FPIR ${r.targetFpir === null ? 'none (identification.targetFpir null)' : pct(r.targetFpir)} per the calibration table (${r.calibrationSource})`);
  out('gallery  genuine  strangers  threshold  FNIR      FPIR      wrong id  missed: no face / low quality / below threshold / below margin   at match.threshold: FNIR / FPIR');
  for (const s of r.sizes) {
    out(
      `${String(s.gallerySize).padEnd(8)} ${String(s.mated).padEnd(8)} ${String(s.nonMated).padEnd(10)} ${s.threshold.toFixed(3).padEnd(10)} ${pct(s.fnir).padEnd(9)} ${pct(s.fpir).padEnd(9)} ${String(s.wrongIdentity).padEnd(9)} ${misses(s.misses).padEnd(55)} ${pct(s.base.fnir)} / ${pct(s.base.fpir)}`,
    );
  }
  out('without the probes the gate does not judge (no face, or refused by the quality gate: failures to acquire):');
  out('gallery  threshold  failed to acquire: genuine / strangers   FNIR judged  FPIR judged   at match.threshold: FNIR / FPIR judged');
  for (const s of r.sizes) {
    out(
      `${String(s.gallerySize).padEnd(8)} ${s.threshold.toFixed(3).padEnd(10)} ${`${s.failedToAcquire.mated} / ${s.failedToAcquire.nonMated}`.padEnd(38)} ${pct(s.fnirJudged).padEnd(12)} ${pct(s.fpirJudged).padEnd(13)} ${pct(s.base.fnirJudged)} / ${pct(s.base.fpirJudged)}`,
    );
  }
  const last = r.sizes[r.sizes.length - 1];
  if (last?.errors.length) {
    out(`wrong matches at gallery size ${last.gallerySize}, threshold ${last.threshold.toFixed(3)}: ${last.errors.length}${last.errors.length > o.show ? ` (the ${o.show} most similar; --json lists all)` : ''}`);
    for (const e of last.errors.slice(0, o.show)) out(`  ${e.probe} (${e.truth ?? 'stranger'}) -> ${e.matched}, similarity ${e.similarity.toFixed(3)}`);
  }
  const v = r.verify;
  out(`verify (ticket + face, 1:1) at threshold ${v.threshold.toFixed(3)}: FNIR ${pct(v.fnir)} (${v.falseRejects} of ${v.genuine} own claims refused); wrong person accepted in ${v.falseAccepts} of ${v.impostorAttempts} impostor claims (${pct(v.far, 4)}; every usable probe claiming every other enrolled identity)`);
  for (const a of v.accepted.slice(0, o.show)) out(`  ${a.probe} (${a.truth ?? 'stranger'}) claiming ${a.claimed}, similarity ${a.similarity.toFixed(3)}`);
  out('extrapolated (FPIR(N) = 1-(1-p)^N, p from the calibration table; FNIR measured on this run\'s genuine probes at that threshold):');
  out('attendees  FPIR at match.threshold  effective threshold  expected FPIR  FNIR');
  for (const x of r.extrapolation) {
    out(`${String(x.attendees).padEnd(10)} ${pct(x.fpirAtBase).padEnd(24)} ${x.threshold.toFixed(3).padEnd(20)} ${pct(x.expectedFpir, 3).padEnd(14)} ${pct(x.fnir)}`);
  }
  if (r.calibration) out(`impostor comparisons: ${r.calibration.comparisons}; tail slope ${r.calibration.tailSlope} log10(rate) per unit of similarity (--write-calibration <file> saves the table)`);
  const w = r.passages;
  if (w) {
    out(
      `passages (walk-ups of ${w.framesPerPassage} photos through the gate's frame stages, ${w.votesNeeded} of ${w.votesWindow} votes): ${w.passages} from ${w.identities} identities (at most ${w.maxPerIdentity} each); strangers = the same passages with their person left out of the gallery`,
    );
    out('fusionFrames  FNIR per passage        FPIR per passage        wrong id');
    for (const x of w.rows) {
      out(`${String(x.fusionFrames).padEnd(13)} ${`${pct(x.fnir)} (${x.falseNegatives})`.padEnd(23)} ${`${pct(x.fpir)} (${x.falsePositives})`.padEnd(23)} ${x.wrongIdentity}`);
    }
  }
}

function padRatesJson(p: PadRates): Record<string, unknown> {
  return {
    apcer: p.apcer.map((a) => ({ ...a, apcer: r6(a.apcer) })),
    apcerMax: r6(p.apcerMax),
    bonaFide: p.bonaFide,
    rejectedAsAttack: p.rejectedAsAttack,
    bpcer: r6(p.bpcer),
  };
}

export function printPad(r: PadReport, o: { json?: boolean }): void {
  if (o.json) {
    out(
      JSON.stringify({
        command: 'eval pad',
        threshold: r.threshold,
        videoFps: r.videoFps,
        perFrame: padRatesJson(r.perFrame),
        perTrack: padRatesJson(r.perTrack),
        sources: r.sources.map((s) => ({ ...s, frameErrorRate: r6(s.frameErrorRate), trackErrorRate: r6(s.trackErrorRate) })),
        tracks: r.tracks.map((t) => ({ ...t, live: t.live === null ? null : r4(t.live) })),
      }),
    );
    return;
  }
  out(`liveness threshold ${r.threshold} (live probability); videos sampled at ${r.videoFps} frames/s`);
  out('source                         kind       tracks  frames  no face  per frame       per track');
  for (const s of r.sources) {
    const name = s.attack ? 'APCER' : 'BPCER';
    out(
      `${s.source.padEnd(30)} ${(s.attack ? 'attack' : 'bona fide').padEnd(10)} ${String(s.tracks).padEnd(7)} ${String(s.frames).padEnd(7)} ${String(s.noFace).padEnd(8)} ${name} ${pct(s.frameErrorRate).padEnd(9)} ${name} ${pct(s.trackErrorRate)}`,
    );
  }
  for (const [what, p] of [['per frame', r.perFrame], ['per track', r.perTrack]] as const) {
    out(`${what}: APCER (worst source) ${pct(p.apcerMax)}, BPCER ${pct(p.bpcer)} (${p.rejectedAsAttack} of ${p.bonaFide} bona fide rejected)`);
  }
  const failed = r.tracks.filter((t) => t.error);
  for (const t of failed) out(`  ${t.path}: ${t.error}`);
}
