// Guard: every project script must run on Node 24 (the Lambda runtime we target), which the
// devDependency `node@24` puts first on PATH inside npm scripts. `npm ci --ignore-scripts` skips
// that package's install step and scripts would silently fall back to the machine's Node.
const major = Number(process.versions.node.split('.')[0]);
if (major !== 24) {
  console.error(
    `Floodgate needs Node 24 (the nodejs24.x Lambda runtime) but this script runs on ${process.version}.\n` +
      'Run `npm ci` (without --ignore-scripts) so the devDependency node@24 installs, then use npm scripts or npx.',
  );
  process.exit(1);
}
