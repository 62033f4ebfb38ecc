/** Stand-alone entry of `energymesh chain …` (what the node processes of tests and scripts run): `node --import tsx chain/cli/chain-main.ts node …`. */
import { chainCommand } from './chain-cli.ts';

const program = chainCommand();
program.name('energymesh chain');
await program.parseAsync(process.argv);
