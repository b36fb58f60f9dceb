#!/usr/bin/env node
// The published entry point: runs the compiled CLI (npm install runs the build through "prepare").
import { main } from '../dist/cli.js';
import { limitHeapGrowth } from '../dist/util/heapGrowth.js';

// Heaps held within half again of their live data (src/util/heapGrowth.ts): set before any record is read.
limitHeapGrowth();

// `dasguard replay … | head`: the reader went away. Stop quietly, as Unix tools do; nothing is checkpointed past
// output that was not written, so a consumer resumes from before it.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
