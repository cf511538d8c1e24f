// Runs the CLI from the compiled tree (out/src/cli/entry.js); the bundle's
// entry is main.ts, started by bin/rwkvx.js.
import { runProcess } from './main';

runProcess();
