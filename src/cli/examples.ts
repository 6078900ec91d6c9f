// An example for every command's --help, in one place so a new command without one shows
// up in one review (test/cli/help-cli.test.ts fails for it).
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  detect: ['gate-agent detect /var/lib/gate-agent/snapshots/door.jpg', 'gate-agent detect --list photos.txt --json'],
  embed: ['gate-agent embed alice.jpg --json'],
  compare: ['gate-agent compare alice-id.jpg alice-gate.jpg'],
  models: ['gate-agent models verify'],
  'models verify': ['gate-agent models verify --models-dir /var/lib/gate-agent/models'],
  'models pull': ['gate-agent models pull --from /media/usb/securegate-models.zip'],
  events: ['gate-agent events list'],
  'events add': ['gate-agent events add gala-2026 --name "Spring gala" --starts 2026-05-01T18:00:00+02:00 --ends 2026-05-02T02:00:00+02:00'],
  'events list': ['gate-agent events list --json'],
  'events remove': ['gate-agent events remove gala-2026'],
  attendees: ['gate-agent attendees list --event gala-2026'],
  'attendees list': ['gate-agent attendees list --event gala-2026 --json'],
  'attendees show': ['gate-agent attendees show --event gala-2026 --user u-1001'],
  'attendees remove': ['gate-agent attendees remove --event gala-2026 --user u-1001'],
  'attendees purge': ['gate-agent attendees purge --expired'],
  'attendees import': ['gate-agent attendees import roster.csv --event gala-2026 --photos ./photos'],
  'attendees reembed': ['gate-agent attendees reembed --event gala-2026'],
  enroll: ['gate-agent enroll --event gala-2026 --user u-1001 --name "Alice Example" alice-1.jpg alice-2.jpg'],
  identify: ['gate-agent identify door.jpg --event gala-2026 --json'],
  keys: ['gate-agent keys list'],
  'keys create': ['gate-agent keys create --name turnstile-app'],
  'keys list': ['gate-agent keys list --json'],
  'keys revoke': ['gate-agent keys revoke turnstile-app'],
  audit: ['gate-agent audit verify'],
  'audit verify': ['gate-agent audit verify --json'],
  store: ['gate-agent store rotate-key --new-key-file /etc/gate-agent/store.key.new'],
  'store backup': ['gate-agent store backup', 'gate-agent store backup /var/lib/gate-agent/backups/before-upgrade.db --json'],
  fleet: ['gate-agent fleet status'],
  'fleet status': ['gate-agent fleet status --json', 'gate-agent fleet status --broker mqtt://10.0.0.2:1883 --site hall-a'],
  'store rotate-key': ['gate-agent store rotate-key --new-key-file /etc/gate-agent/store.key.new'],
  run: ['gate-agent run --config /etc/gate-agent/config.yaml', 'gate-agent run --camera-path demo.mp4 --event gala-2026 --once'],
  config: ['gate-agent config init --out /etc/gate-agent/config.yaml --platform raspberry-pi --relay-line 17', 'gate-agent config set match.threshold 0.36'],
  'config init': [
    'gate-agent config init --out /etc/gate-agent/config.yaml   # asks on a terminal',
    'gate-agent config init --out gate.yaml --platform jetson --camera-path /dev/video0 --relay-line 105 --broker mqtts://broker.example:8883 --event gala-2026',
  ],
  'config set': ['gate-agent config set mqtt.brokerUrl mqtts://broker.example:8883', 'gate-agent config set relay.doorPin null'],
  'config show': ['gate-agent config show --effective'],
  'config validate': ['gate-agent config validate --config /etc/gate-agent/config.yaml --json'],
  sync: ['gate-agent sync --event gala-2026'],
  doctor: ['gate-agent doctor', 'gate-agent --config /etc/gate-agent/config.yaml doctor --json'],
  relay: ['gate-agent relay test'],
  'relay test': ['gate-agent relay test --pulse-ms 500'],
  serve: ['gate-agent serve --port 8080'],
  eval: ['gate-agent eval verify --pairs pairs.tsv --images ./lfw'],
  'eval verify': ['gate-agent eval verify --pairs pairs.tsv --images ./lfw --cache emb.json'],
  'eval identify': ['gate-agent eval identify --gallery ./enrolled --probes ./gate-shots --sizes 100,1000'],
  'eval pad': ['gate-agent eval pad --live ./live --attack ./prints'],
  camera: ['gate-agent camera check', 'gate-agent camera snapshot --annotate /tmp/aim.jpg'],
  'camera snapshot': ['gate-agent camera snapshot --annotate /tmp/aim.jpg', 'gate-agent camera snapshot --camera-path ./door-clip.mp4 --json door.jpg'],
  'camera check': ['gate-agent camera check', 'gate-agent camera check --seconds 10 --json'],
  status: ['gate-agent status', 'gate-agent status --watch'],
};

/** The words after `gate-agent` that name a command (`config show`). */
export function commandKey(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Adds its example to every command under `program` that has one in EXAMPLES. */
export function addExamples(program: Command): void {
  for (const cmd of program.commands) {
    const lines = EXAMPLES[commandKey(cmd)];
    if (lines) cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
    addExamples(cmd);
  }
}
