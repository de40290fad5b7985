import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Debian's Chromium, which .ci/run installs; without it a test fails as root (CI) and skips otherwise, saying why. */
export async function browser(t: { skip(msg: string): void }): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.getuid?.() !== 0) {
      t.skip(`no ${CHROMIUM} (apt-get install chromium), and not root to install it`);
      return undefined;
    }
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}
