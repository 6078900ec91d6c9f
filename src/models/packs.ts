// Which model pack a config needs, and the one command that installs it: every
// "missing model" message prints that command for the config in use.
import type { Config } from '../config/types.js';
import { loadManifest, ModelFileError, type PackEntry } from './manifest.js';

/** Model ids the config loads: detector, embedder, and the liveness models unless liveness is off. */
export function requiredModels(config: Pick<Config, 'models' | 'liveness'>): string[] {
  return [config.models.detector, config.models.embedder, ...(config.liveness.mode === 'off' ? [] : config.liveness.models)];
}

export interface PackChoice {
  name: string;
  pack: PackEntry;
}

/** The pack holding every required model; one with a download address first, then the smallest. */
export function packFor(required: string[]): PackChoice {
  const packs = Object.entries(loadManifest().packs).map(([name, pack]) => ({ name, pack }));
  const covering = packs.filter((p) => required.every((id) => Object.values(p.pack.files).includes(id)));
  covering.sort((a, b) => Number(b.pack.url !== null) - Number(a.pack.url !== null) || Object.keys(a.pack.files).length - Object.keys(b.pack.files).length);
  const best = covering[0];
  if (!best) {
    const where = packs.map((p) => `${p.name}: ${Object.values(p.pack.files).join(', ')}`).join('; ');
    throw new ModelFileError(`no model pack holds every model this config needs (${required.join(', ')}); packs: ${where}. Choose models.detector, models.embedder and liveness.models from one pack`);
  }
  return best;
}

export interface FixContext {
  configFile: string | null;
  /** --models-dir / GATE_AGENT_MODELS_DIR when given: the pull must target the same folder. */
  modelsDirFlag?: string | undefined;
  required: string[];
}

/** The command that installs what the config needs, exactly as the technician should type it. */
export function pullCommand(ctx: FixContext): string {
  let choice: PackChoice;
  try {
    choice = packFor(ctx.required);
  } catch {
    return 'gate-agent models pull --pack <name> --from <folder|zip|URL>';
  }
  const parts = ['gate-agent models pull'];
  if (ctx.configFile) parts.push(`--config ${ctx.configFile}`);
  if (ctx.modelsDirFlag) parts.push(`--models-dir ${ctx.modelsDirFlag}`);
  if (!choice.pack.url) parts.push(`--from <folder, zip or URL holding the ${choice.name} pack: ${Object.keys(choice.pack.files).join(', ')}>`);
  return parts.join(' ');
}
