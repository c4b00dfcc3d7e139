/** `npm run factory -- <command>`: the operator CLI (src/cli). `npm run factory -- help` lists the commands. */
import { runCli } from '../src/cli';
import { cliSettings } from '../src/cli/factory-api';

runCli(process.argv.slice(2), {
  out: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true },
  err: (line) => process.stderr.write(`${line}\n`),
  settings: cliSettings(),
})
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
