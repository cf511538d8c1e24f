// Entry of the integration tests inside VS Code (--extensionTestsPath): runs
// the tests and rejects when one failed, which makes VS Code exit non-zero.
import { runAll } from './framework';
import './extension.test';

export async function run(): Promise<void> {
  console.log('rwkvx-code integration tests');
  const t0 = Date.now();
  const r = await runAll(process.env.RWKVX_TEST_FILTER || undefined);
  console.log(`integration tests: ${r.passed} passed, ${r.failed.length} failed (${Math.round((Date.now() - t0) / 1000)} s)`);
  if (r.failed.length) throw new Error(`failed: ${r.failed.join('; ')}`);
}
