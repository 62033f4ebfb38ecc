#!/usr/bin/env node
// Entry point of the `energymesh` CLI: registers the TypeScript loader, then runs core/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv);
