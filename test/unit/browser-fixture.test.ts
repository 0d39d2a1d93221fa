import { chromiumPath } from '../fixtures/browser';

/**
 * The browser tests find Chromium the way .ci/run checks for it
 * (`command -v chromium`), so a machine where CI is satisfied never fails the
 * test on a hard-coded path.
 */
describe('the Chromium of the browser tests', () => {
  const only = (...files: string[]) => (file: string) => files.includes(file);

  it('takes CHROMIUM_PATH first, found or not (the error then names it)', () => {
    expect(chromiumPath({ CHROMIUM_PATH: '/opt/chrome/chrome', PATH: '/usr/local/bin' }, only('/opt/chrome/chrome', '/usr/local/bin/chromium'))).toEqual({ path: '/opt/chrome/chrome', found: true });
    expect(chromiumPath({ CHROMIUM_PATH: '/nowhere/chrome', PATH: '/usr/local/bin' }, only('/usr/local/bin/chromium'))).toEqual({ path: '/nowhere/chrome', found: false });
  });

  it('else the first `chromium` on PATH (a snap or a Homebrew install, not only Debian)', () => {
    expect(chromiumPath({ PATH: '/home/dev/bin:/snap/bin:/usr/bin' }, only('/snap/bin/chromium', '/usr/bin/chromium'))).toEqual({ path: '/snap/bin/chromium', found: true });
  });

  it('else /usr/bin/chromium, reported missing when it is', () => {
    expect(chromiumPath({ PATH: '' }, only('/usr/bin/chromium'))).toEqual({ path: '/usr/bin/chromium', found: true });
    expect(chromiumPath({ PATH: '/usr/local/bin' }, only())).toEqual({ path: '/usr/bin/chromium', found: false });
  });
});
