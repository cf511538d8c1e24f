// Entry of the `rwkvx` command line (bundled to dist/cli.js, started by bin/rwkvx.js).
import { EngineError } from '../common/errors';
import { Command, parseCommandLine, UsageError, USAGE } from './args';
import { runAsk, runChat, runComplete } from './assistant';
import { runBench, runConvert, runGenerate, runInfo, runLogits, runTokenize } from './probes';
import { Interrupt, Interrupted, Io } from './runtime';

async function dispatch(cmd: Command, io: Io, interrupt: Interrupt): Promise<number> {
  switch (cmd.name) {
    case 'help':
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case 'ask':
      return runAsk(cmd, io, interrupt);
    case 'chat':
      return runChat(cmd, io, interrupt);
    case 'complete':
      return runComplete(cmd, io, interrupt);
    case 'info':
      return runInfo(cmd, io, interrupt);
    case 'convert':
      return runConvert(cmd, io, interrupt);
    case 'tokenize':
      return runTokenize(cmd, io, interrupt);
    case 'logits':
      return runLogits(cmd, io, interrupt);
    case 'generate':
      return runGenerate(cmd, io, interrupt);
    case 'bench':
      return runBench(cmd, io);
  }
}

/** Runs one command line; resolves to the exit status. */
export async function run(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }): Promise<number> {
  const interrupt = new Interrupt();
  try {
    return await dispatch(parseCommandLine(argv), io, interrupt);
  } catch (e) {
    if (e instanceof Interrupted || (interrupt.requested && e instanceof EngineError && e.code === 'ABORTED')) {
      io.stderr.write('\ninterrupted\n');
      return 130;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`rwkvx: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof EngineError) {
      io.stderr.write(`rwkvx: ${e.message} [${e.code}]\n`);
      return 1;
    }
    io.stderr.write(`rwkvx: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    interrupt.dispose();
  }
}

/** Runs process.argv and exits with the command's status. */
export function runProcess(): void {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`rwkvx: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
